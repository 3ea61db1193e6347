// Reads the IAM policies out of template.yaml: parses the template with CloudFormation's
// short-form tags and resolves the intrinsic functions that the policies use, for a fixed
// imaginary deployment (stack `tenantry`, account 123456789012, us-east-1, the production
// environment, with made-up values for the parameters that have no default).
//
// Only CloudFormation's own `${...}` references are resolved, and only inside !Sub (as
// CloudFormation does). IAM policy variables such as `${aws:PrincipalTag/TenantId}` written in a
// plain string are left untouched for the evaluator; one written inside !Sub is an error here, as
// it is for CloudFormation (it would have to be escaped as `${!aws:PrincipalTag/TenantId}`).

import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'

export const TEMPLATE_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../../template.yaml')

export const DEPLOYMENT = Object.freeze({
  partition: 'aws',
  region: 'us-east-1',
  accountId: '123456789012',
  stackName: 'tenantry',
  // The values a deployment gives (samconfig.toml's parameter_overrides); every other parameter
  // takes its default. A parameter with neither is an error.
  parameters: Object.freeze({
    Environment: 'prod',
    MailFrom: 'no-reply@tenantry.example',
    AlertEmail: 'ops@tenantry.example',
    ConsoleDomain: 'console.tenantry.example',
    ConsoleCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000001',
    ApiDomain: 'api.tenantry.example',
    MachineApiDomain: 'machine.tenantry.example',
    ApiCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000002'
  })
})

/** The suffix CloudFormation appends to generated physical names (fixed here). */
const GENERATED_SUFFIX = 'ABC'

/** The id KMS would give the stack's key (fixed here). */
const KEY_ID = '0a1b2c3d-0000-4000-8000-00000000abcd'

export function readTemplateText(path = TEMPLATE_PATH) {
  return readFileSync(path, 'utf8')
}

// ---------------------------------------------------------------- parsing

const SHORT_FORMS = [
  'Ref', 'Condition', 'Base64', 'Cidr', 'FindInMap', 'GetAtt', 'GetAZs', 'ImportValue', 'Join',
  'Select', 'Split', 'Sub', 'Transform', 'And', 'Equals', 'If', 'Not', 'Or', 'ToJsonString',
  'Length'
]

function longName(short) {
  return short === 'Ref' || short === 'Condition' ? short : `Fn::${short}`
}

const CFN_TAGS = SHORT_FORMS.flatMap((short) => {
  const name = longName(short)
  return [
    {
      tag: `!${short}`,
      // `!GetAtt Resource.Attribute` is the scalar form of ["Resource", "Attribute"].
      resolve: (text) => ({ [name]: short === 'GetAtt' ? splitGetAtt(text) : text })
    },
    { tag: `!${short}`, collection: 'seq', resolve: (seq) => ({ [name]: seq.toJSON() }) },
    { tag: `!${short}`, collection: 'map', resolve: (map) => ({ [name]: map.toJSON() }) }
  ]
})

function splitGetAtt(text) {
  const dot = text.indexOf('.')
  if (dot < 1) throw new Error(`!GetAtt ${text}: expected Resource.Attribute`)
  return [text.slice(0, dot), text.slice(dot + 1)]
}

/** Parses template text into plain JS, intrinsic functions kept in their long form. */
export function parseTemplate(text) {
  const doc = YAML.parseDocument(text, { customTags: CFN_TAGS, uniqueKeys: true })
  const problems = [...doc.errors, ...doc.warnings]
  if (problems.length > 0) {
    throw new Error(`template.yaml does not parse: ${problems.map((p) => p.message).join('; ')}`)
  }
  const template = doc.toJS({ maxAliasCount: 100 })
  if (!template || typeof template !== 'object' || typeof template.Resources !== 'object') {
    throw new Error('template.yaml has no Resources')
  }
  return template
}

// ---------------------------------------------------------------- resolving

const NO_VALUE = Symbol('AWS::NoValue')

/**
 * Resolves intrinsic functions against the fixed deployment. Throws on anything it cannot
 * resolve, so a policy is never evaluated half-resolved.
 */
export class Resolver {
  constructor(template, deployment = DEPLOYMENT) {
    this.template = template
    this.d = deployment
    this.resources = template.Resources ?? {}
    this.parameters = template.Parameters ?? {}
    this.conditions = template.Conditions ?? {}
  }

  /** Resolves a value (recursively); `AWS::NoValue` removes list items and map entries. */
  resolve(value) {
    const out = this.#value(value)
    if (out === NO_VALUE) throw new Error('AWS::NoValue at the top level')
    return out
  }

  #value(value) {
    if (Array.isArray(value)) {
      return value.map((v) => this.#value(v)).filter((v) => v !== NO_VALUE)
    }
    if (value === null || typeof value !== 'object') return value
    const keys = Object.keys(value)
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') || keys[0] === 'Condition')) {
      const [key] = keys
      const arg = value[key]
      switch (key) {
        case 'Ref':
          return this.ref(arg)
        case 'Fn::GetAtt':
          return this.getAtt(...(typeof arg === 'string' ? splitGetAtt(arg) : arg))
        case 'Fn::Sub':
          return this.sub(arg)
        case 'Fn::Join': {
          const [delimiter, items] = arg
          return this.#list(items).join(delimiter)
        }
        case 'Fn::Select': {
          const [index, items] = arg
          return this.#list(items)[Number(this.#value(index))]
        }
        case 'Fn::Split': {
          const [delimiter, text] = arg
          return String(this.#value(text)).split(delimiter)
        }
        case 'Fn::If': {
          const [condition, whenTrue, whenFalse] = arg
          return this.condition(condition) ? this.#value(whenTrue) : this.#value(whenFalse)
        }
        case 'Fn::Equals':
        case 'Fn::And':
        case 'Fn::Or':
        case 'Fn::Not':
        case 'Condition':
          return this.#boolean(value)
        default:
          if (key.startsWith('Fn::')) throw new Error(`cannot resolve ${key} locally`)
      }
    }
    const out = {}
    for (const [k, v] of Object.entries(value)) {
      const resolved = this.#value(v)
      if (resolved !== NO_VALUE) out[k] = resolved
    }
    return out
  }

  #list(items) {
    const list = this.#value(items)
    if (!Array.isArray(list)) throw new Error('expected a list')
    return list
  }

  condition(name) {
    if (!(name in this.conditions)) throw new Error(`unknown condition ${name}`)
    return this.#boolean(this.conditions[name])
  }

  #boolean(value) {
    const [key] = Object.keys(value)
    const arg = value[key]
    switch (key) {
      case 'Condition':
        return this.condition(arg)
      case 'Fn::Equals': {
        const [a, b] = arg.map((v) => this.#value(v))
        return String(a) === String(b)
      }
      case 'Fn::And':
        return arg.every((c) => this.#boolean(c))
      case 'Fn::Or':
        return arg.some((c) => this.#boolean(c))
      case 'Fn::Not':
        return !this.#boolean(arg[0])
      default:
        throw new Error(`not a condition: ${JSON.stringify(value)}`)
    }
  }

  pseudo(name) {
    switch (name) {
      case 'AWS::Partition':
        return this.d.partition
      case 'AWS::Region':
        return this.d.region
      case 'AWS::AccountId':
        return this.d.accountId
      case 'AWS::StackName':
        return this.d.stackName
      case 'AWS::URLSuffix':
        return 'amazonaws.com'
      case 'AWS::NoValue':
        return NO_VALUE
      default:
        return undefined
    }
  }

  ref(name) {
    const pseudo = this.pseudo(name)
    if (pseudo !== undefined) return pseudo
    if (name in this.parameters) {
      const given = this.d.parameters ?? {}
      if (name in given) return given[name]
      const parameter = this.parameters[name]
      if (!('Default' in parameter)) throw new Error(`parameter ${name} has no default and the deployment gives no value`)
      return parameter.Default
    }
    const resource = this.resources[name]
    if (resource) {
      switch (resource.Type) {
        case 'AWS::DynamoDB::Table':
          return this.#physicalName(name, 'TableName')
        case 'AWS::IAM::Role':
          return this.#physicalName(name, 'RoleName')
        case 'AWS::Serverless::Function':
        case 'AWS::Lambda::Function':
          return this.#physicalName(name, 'FunctionName')
        case 'AWS::Cognito::UserPool':
          return `${this.d.region}_TESTPOOL`
        case 'AWS::SQS::Queue':
          return `https://sqs.${this.d.region}.amazonaws.com/${this.d.accountId}/${this.#physicalName(name, 'QueueName')}`
        case 'AWS::SES::ConfigurationSet':
          return this.#physicalName(name, 'Name')
        case 'AWS::S3::Bucket':
          return this.#physicalName(name, 'BucketName').toLowerCase()
        case 'AWS::Logs::LogGroup':
          return this.#physicalName(name, 'LogGroupName')
        case 'AWS::SNS::Topic':
          return `arn:${this.d.partition}:sns:${this.d.region}:${this.d.accountId}:${this.#physicalName(name, 'TopicName')}`
        case 'AWS::KMS::Key':
          return KEY_ID
        case 'AWS::CloudFront::Distribution':
          return 'E2TENANTRYCONSOLE'
        case 'AWS::Cognito::UserPoolClient':
          return 'tenantryclient0001'
        default:
          throw new Error(`cannot resolve !Ref ${name} (${resource.Type}) locally`)
      }
    }
    if (this.#samRoleOf(name)) return this.#samRoleName(name)
    throw new Error(`unknown reference ${name}`)
  }

  getAtt(name, attribute) {
    const { partition, region, accountId } = this.d
    const resource = this.resources[name]
    if (resource && attribute === 'Arn') {
      switch (resource.Type) {
        case 'AWS::DynamoDB::Table':
          return `arn:${partition}:dynamodb:${region}:${accountId}:table/${this.ref(name)}`
        case 'AWS::IAM::Role':
          return this.#roleArn(this.ref(name), resource.Properties?.Path)
        case 'AWS::Serverless::Function':
        case 'AWS::Lambda::Function':
          return `arn:${partition}:lambda:${region}:${accountId}:function:${this.ref(name)}`
        case 'AWS::Cognito::UserPool':
          return `arn:${partition}:cognito-idp:${region}:${accountId}:userpool/${this.ref(name)}`
        case 'AWS::SQS::Queue':
          return `arn:${partition}:sqs:${region}:${accountId}:${this.#physicalName(name, 'QueueName')}`
        case 'AWS::Events::EventBus':
          return `arn:${partition}:events:${region}:${accountId}:event-bus/${this.#physicalName(name, 'Name')}`
        case 'AWS::S3::Bucket':
          return `arn:${partition}:s3:::${this.ref(name)}`
        case 'AWS::KMS::Key':
          return `arn:${partition}:kms:${region}:${accountId}:key/${KEY_ID}`
        case 'AWS::Logs::LogGroup':
          return `arn:${partition}:logs:${region}:${accountId}:log-group:${this.ref(name)}:*`
      }
    }
    if (!resource && attribute === 'Arn' && this.#samRoleOf(name)) {
      return this.#roleArn(this.#samRoleName(name))
    }
    throw new Error(`cannot resolve !GetAtt ${name}.${attribute} locally`)
  }

  /** !Sub "text" or !Sub ["text", {Var: value}]: only CloudFormation's own ${...} names. */
  sub(arg) {
    let text = arg
    let vars = {}
    if (Array.isArray(arg)) {
      ;[text, vars] = arg
      vars = Object.fromEntries(Object.entries(vars ?? {}).map(([k, v]) => [k, this.#value(v)]))
    }
    if (typeof text !== 'string') throw new Error('!Sub needs a string')
    return text.replace(/\$\{([^}]*)\}/g, (whole, inner) => {
      if (inner.startsWith('!')) return '${' + inner.slice(1) + '}' // ${!Literal} is literal
      const name = inner.trim()
      if (name in vars) return String(vars[name])
      const pseudo = this.pseudo(name)
      if (pseudo !== undefined && pseudo !== NO_VALUE) return pseudo
      if (name.includes('.')) return String(this.getAtt(...splitGetAtt(name)))
      if (name in this.parameters || name in this.resources) return String(this.ref(name))
      throw new Error(
        `!Sub cannot resolve \${${name}}` +
          (name.includes(':') ? ' (an IAM policy variable inside !Sub must be written ${!...})' : '')
      )
    })
  }

  #physicalName(name, property) {
    const given = this.resources[name].Properties?.[property]
    if (given !== undefined) return this.resolve(given)
    return `${this.d.stackName}-${name}-${GENERATED_SUFFIX}`
  }

  #roleArn(roleName, path = '/') {
    return `arn:${this.d.partition}:iam::${this.d.accountId}:role${path ?? '/'}${roleName}`
  }

  /** `XFunctionRole` is the role SAM generates for the AWS::Serverless::Function `X`. */
  #samRoleOf(roleLogicalId) {
    if (!roleLogicalId.endsWith('Role')) return undefined
    const fn = this.resources[roleLogicalId.slice(0, -'Role'.length)]
    if (fn?.Type !== 'AWS::Serverless::Function' || fn.Properties?.Role !== undefined) return undefined
    return fn
  }

  #samRoleName(roleLogicalId) {
    return `${this.d.stackName}-${roleLogicalId}-${GENERATED_SUFFIX}`
  }
}

// ---------------------------------------------------------------- what the policies are

export function arns(deployment = DEPLOYMENT) {
  const { partition, region, accountId, stackName } = deployment
  return {
    table: (name) => `arn:${partition}:dynamodb:${region}:${accountId}:table/${name}`,
    role: (name) => `arn:${partition}:iam::${accountId}:role/${name}`,
    session: (roleName, sessionName) =>
      `arn:${partition}:sts::${accountId}:assumed-role/${roleName}/${sessionName}`,
    samRoleName: (functionLogicalId) => `${stackName}-${functionLogicalId}Role-${GENERATED_SUFFIX}`,
    accountRoot: `arn:${partition}:iam::${accountId}:root`
  }
}

// AWS managed policies that SAM attaches to every function role it generates (Basic execution;
// X-Ray when Tracing is Active). They are AWS's, not the template's: reproduced here so the
// function roles are evaluated with everything they really hold. None of them touches DynamoDB
// or STS.
const SAM_MANAGED_POLICIES = {
  AWSLambdaBasicExecutionRole: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*'
      }
    ]
  },
  AWSXrayWriteOnlyAccess: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          'xray:GetSamplingStatisticSummaries'
        ],
        Resource: '*'
      }
    ]
  }
}

function isPolicyDocument(value) {
  return value && typeof value === 'object' && !Array.isArray(value) && 'Statement' in value
}

/** Stand-alone policy resources (AWS::IAM::Policy, ...) attached to the role named `roleRef`. */
function attachedPolicyResources(template, resolver, roleLogicalId) {
  const found = []
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (!['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::RolePolicy'].includes(resource.Type)) continue
    const props = resource.Properties ?? {}
    const roles = props.Roles ?? (props.RoleName !== undefined ? [props.RoleName] : [])
    const refersToRole = roles.some((r) => r && typeof r === 'object' && r.Ref === roleLogicalId)
    const roleName = (() => {
      try {
        return resolver.ref(roleLogicalId)
      } catch {
        return undefined
      }
    })()
    const namesRole = roles.some((r) => {
      try {
        return resolver.resolve(r) === roleName
      } catch {
        return false
      }
    })
    if (refersToRole || namesRole) found.push({ name: id, policy: resolver.resolve(props.PolicyDocument) })
  }
  return found
}

/**
 * Everything the checks need, resolved: the tenant-data role (trust policy, permission
 * policies, ARN) and each function's execution role (identity policies, ARN, session ARN).
 * Throws when the template holds something these tests cannot evaluate (fail closed).
 */
export function loadPolicies(templateText, deployment = DEPLOYMENT) {
  const template = parseTemplate(templateText)
  const resolver = new Resolver(template, deployment)
  const names = arns(deployment)
  const resources = template.Resources

  const dataRole = resources.TenantDataRole
  if (dataRole?.Type !== 'AWS::IAM::Role') throw new Error('TenantDataRole (AWS::IAM::Role) not found')
  const dataRoleProps = dataRole.Properties ?? {}
  for (const unsupported of ['ManagedPolicyArns', 'PermissionsBoundary']) {
    if (dataRoleProps[unsupported] !== undefined) {
      throw new Error(`TenantDataRole.${unsupported} cannot be evaluated by these tests`)
    }
  }
  const tenantDataRole = {
    roleName: resolver.ref('TenantDataRole'),
    arn: resolver.getAtt('TenantDataRole', 'Arn'),
    trustPolicy: resolver.resolve(dataRoleProps.AssumeRolePolicyDocument),
    policies: [
      ...(dataRoleProps.Policies ?? []).map((p) => ({ name: p.PolicyName, policy: resolver.resolve(p.PolicyDocument) })),
      ...attachedPolicyResources(template, resolver, 'TenantDataRole')
    ]
  }

  const globalsFunction = template.Globals?.Function ?? {}
  const functions = {}
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Serverless::Function') continue
    const props = resource.Properties ?? {}
    if (props.Role !== undefined) {
      functions[id] = { unsupported: `${id}.Role is set: its policies cannot be read by these tests` }
      continue
    }
    if ((props.PermissionsBoundary ?? globalsFunction.PermissionsBoundary) !== undefined) {
      functions[id] = { unsupported: `${id}: PermissionsBoundary cannot be evaluated by these tests` }
      continue
    }
    const roleLogicalId = `${id}Role`
    const roleName = names.samRoleName(id)
    const policies = [{ name: 'AWSLambdaBasicExecutionRole', policy: SAM_MANAGED_POLICIES.AWSLambdaBasicExecutionRole }]
    const tracing = props.Tracing ?? globalsFunction.Tracing
    if (tracing === 'Active') {
      policies.push({ name: 'AWSXrayWriteOnlyAccess', policy: SAM_MANAGED_POLICIES.AWSXrayWriteOnlyAccess })
    }
    const unsupported = []
    const declared = props.Policies === undefined ? [] : [props.Policies].flat()
    declared.forEach((entry, index) => {
      if (isPolicyDocument(entry)) {
        policies.push({ name: `${roleLogicalId}Policy${index}`, policy: resolver.resolve(entry) })
      } else {
        // A managed policy name or ARN, or a SAM policy template (DynamoDBCrudPolicy ...): its
        // statements are not in the template, so nothing can be proved about it here.
        unsupported.push(`${id}.Policies[${index}] is not an inline policy document: ${JSON.stringify(entry)}`)
      }
    })
    policies.push(...attachedPolicyResources(template, resolver, roleLogicalId))
    functions[id] = {
      roleLogicalId,
      roleName,
      roleArn: names.role(roleName),
      sessionArn: names.session(roleName, resolver.ref(id)),
      policies,
      unsupported: unsupported.length ? unsupported.join('; ') : undefined
    }
  }

  return { template, resolver, tenantDataRole, functions }
}

/**
 * A role of the template other than the functions' (AWS::IAM::Role `logicalId`): its ARN, trust
 * policy and every policy it holds (inline, and AWS::IAM::Policy resources attached to it).
 * Throws on what these tests cannot evaluate (a managed policy, a permissions boundary).
 */
export function roleOf(loaded, logicalId) {
  const { template, resolver } = loaded
  const resource = template.Resources[logicalId]
  if (resource?.Type !== 'AWS::IAM::Role') throw new Error(`${logicalId} is not an AWS::IAM::Role`)
  const props = resource.Properties ?? {}
  for (const unsupported of ['ManagedPolicyArns', 'PermissionsBoundary']) {
    if (props[unsupported] !== undefined) throw new Error(`${logicalId}.${unsupported} cannot be evaluated by these tests`)
  }
  const roleName = resolver.ref(logicalId)
  return {
    roleName,
    arn: resolver.getAtt(logicalId, 'Arn'),
    sessionArn: arns(resolver.d).session(roleName, 'session'),
    trustPolicy: resolver.resolve(props.AssumeRolePolicyDocument),
    policies: [
      ...(props.Policies ?? []).map((p) => ({ name: p.PolicyName, policy: resolver.resolve(p.PolicyDocument) })),
      ...attachedPolicyResources(template, resolver, logicalId)
    ]
  }
}

/** The policy document of a resource-policy resource (a bucket, queue or topic policy, a key). */
export function resourcePolicyOf(loaded, logicalId) {
  const resource = loaded.template.Resources[logicalId]
  const props = resource?.Properties ?? {}
  const document = resource?.Type === 'AWS::KMS::Key' ? props.KeyPolicy : props.PolicyDocument
  if (document === undefined) throw new Error(`${logicalId} holds no policy document`)
  return loaded.resolver.resolve(document)
}
