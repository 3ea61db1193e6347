// The roles and policies of running the service rather than serving tenants: what deploys,
// logs, alarms and keeps failed work, and the grants tightened for production (the pool's own
// ARN for pre-token-generation, tenants-api's attributes, invocations of the `live` alias only).
//
// Each grant is shown allowed where it is meant to be and denied next to it (another resource,
// another action, another caller), and the guard that makes a denial is shown to matter by
// removing it from a copy of the template. The last test lists every role and policy of the
// template: one that no test here or in lib/checks.mjs evaluates fails it.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { TENANT_A, USER_SUB } from './lib/checks.mjs'
import { evaluate } from './lib/simulate.mjs'
import { arns, DEPLOYMENT, loadPolicies, readTemplateText, resourcePolicyOf, roleOf } from './lib/template.mjs'

const names = arns()
const { partition, region, accountId, stackName } = DEPLOYMENT
const OTHER_ACCOUNT = '210987654321'
const lambdaArn = (name) => `arn:${partition}:lambda:${region}:${accountId}:function:${name}`
const queueArn = (name) => `arn:${partition}:sqs:${region}:${accountId}:${name}`

/** `text` with `pattern` (occurring exactly once) replaced. */
function edited(text, pattern, replacement) {
  const source = typeof pattern === 'string' ? pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : pattern.source
  const found = text.match(new RegExp(source, 'g')) ?? []
  assert.equal(found.length, 1, `${pattern} occurs ${found.length} times in template.yaml, not once: adjust it here`)
  return text.replace(new RegExp(source), replacement)
}

let text
let loaded
before(() => {
  text = readTemplateText()
  loaded = loadPolicies(text)
})

/** A request by a function's own role. */
function asFunction(id, action, resource, context = {}, from = loaded) {
  const fn = from.functions[id]
  assert.ok(fn && !fn.unsupported, `${id}: ${fn?.unsupported ?? 'not found'}`)
  return evaluate({ principal: fn.sessionArn, action, resource, context, identityPolicies: fn.policies })
}

// ------------------------------------------------------------------ pre-token-generation
describe("pre-token-generation reads users of this stack's pool only", () => {
  const pool = () => loaded.resolver.getAtt('UserPool', 'Arn')
  const otherPool = `arn:${partition}:cognito-idp:${region}:${accountId}:userpool/${region}_OTHERPOOL`

  test('AdminGetUser on its own pool is allowed', async () => {
    assert.equal(await asFunction('PreTokenGenerationFunction', 'cognito-idp:AdminGetUser', pool()), 'Allowed')
  })

  test("AdminGetUser on another pool of the account is denied, and any other user-pool action", async () => {
    assert.notEqual(await asFunction('PreTokenGenerationFunction', 'cognito-idp:AdminGetUser', otherPool), 'Allowed')
    for (const action of ['cognito-idp:AdminUpdateUserAttributes', 'cognito-idp:AdminListGroupsForUser', 'cognito-idp:ListUsers']) {
      assert.notEqual(await asFunction('PreTokenGenerationFunction', action, pool()), 'Allowed', action)
    }
  })

  test('not without the pool named: with userpool/* the other pool is reachable', async () => {
    const loosened = loadPolicies(
      edited(text, /(- Sid: ReadSecondFactor\n(?: .*\n)*? *Resource: )!GetAtt UserPool\.Arn/, '$1!Sub "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*"')
    )
    assert.equal(await asFunction('PreTokenGenerationFunction', 'cognito-idp:AdminGetUser', otherPool, {}, loosened), 'Allowed')
  })
})

// ------------------------------------------------------------------ tenants-api's attributes
describe("tenants-api updates the attributes of a tenant record it owns, no other", () => {
  const control = () => loaded.resolver.getAtt('ControlTable', 'Arn')
  const update = (attributes, from = loaded) =>
    asFunction('TenantsApiFunction', 'dynamodb:UpdateItem', control(), {
      'dynamodb:LeadingKeys': [`TENANT#${TENANT_A}`],
      'dynamodb:Attributes': attributes
    }, from)
  // What DynamoControl::update_tenant and ::begin_offboarding name (keys, SET, ADD, conditions).
  const SETTINGS = ['pk', 'sk', 'updated_at', 'name', 'require_mfa', 'settings', 'version']
  const OFFBOARDING = ['pk', 'sk', 'status', 'updated_at', 'version']

  test('a change of settings and the move to offboarding are allowed', async () => {
    assert.equal(await update(SETTINGS), 'Allowed')
    assert.equal(await update(OFFBOARDING), 'Allowed')
  })

  for (const foreign of ['tier', 'data_table', 'revoked', 'user_count', 'plan_lowered', 'gsi1pk', 'customer']) {
    test(`a change naming ${foreign} is denied`, async () => {
      assert.notEqual(await update([...SETTINGS, foreign]), 'Allowed')
    })
  }

  test('another user\'s membership is denied, with allowed attributes', async () => {
    const result = await asFunction('TenantsApiFunction', 'dynamodb:UpdateItem', control(), {
      'dynamodb:LeadingKeys': [`USER#${USER_SUB}`],
      'dynamodb:Attributes': SETTINGS
    })
    assert.notEqual(result, 'Allowed')
  })

  test('not without the attribute list: the tier is then writable', async () => {
    const loosened = loadPolicies(
      edited(text, /(- Sid: ChangeTenantSettings\n(?: .*\n)*?)( *)ForAllValues:StringEquals:\n\2 {2}dynamodb:Attributes:\n(?:\2 {4}- .*\n)+/, '$1')
    )
    assert.equal(await update([...SETTINGS, 'tier'], loosened), 'Allowed')
  })
})

// ------------------------------------------------------------------ asynchronous invocations
// A function that invokes another calls its `live` alias, whose on-failure destination and
// canary apply; never the unqualified function ($LATEST) nor a version.
const INVOCATIONS = [
  ['TenantsApiFunction', 'tenant-jobs'],
  ['BillingApiFunction', 'tenant-jobs'],
  ['BillingSweepFunction', 'tenant-jobs'],
  ['AdminApiFunction', 'tenant-jobs'],
  ['TenantJobsFunction', 'tenant-jobs'],
  ['WebhooksApiFunction', 'webhook-deliver'],
  ['WebhookEventsFunction', 'webhook-deliver']
]
describe('invocations reach the live alias only', () => {
  for (const [caller, target] of INVOCATIONS) {
    test(`${caller} invokes ${target}:live, and not the function, a version or another function`, async () => {
      const name = `${stackName}-${target}`
      assert.equal(await asFunction(caller, 'lambda:InvokeFunction', lambdaArn(`${name}:live`)), 'Allowed')
      for (const other of [name, `${name}:7`, `${name}:$LATEST`, `${stackName}-users-api:live`, `other${name}:live`]) {
        assert.notEqual(await asFunction(caller, 'lambda:InvokeFunction', lambdaArn(other)), 'Allowed', other)
      }
      const variable = target === 'tenant-jobs' ? 'TENANT_JOBS_FUNCTION' : 'WEBHOOK_DELIVER_FUNCTION'
      const value = loaded.resolver.resolve(loaded.template.Resources[caller].Properties.Environment.Variables[variable])
      assert.equal(value, `${name}:live`, `${caller}'s ${variable} names the alias`)
    })
  }
})

// ------------------------------------------------------------------ failed work
describe('webhook-events keeps failed records in its own queues only', () => {
  test('SendMessage to FailedRecordsQueue (whole records) and the positions queue is allowed', async () => {
    for (const queue of ['FailedRecordsQueue', 'WebhookEventsDeadLetterQueue']) {
      assert.equal(await asFunction('WebhookEventsFunction', 'sqs:SendMessage', loaded.resolver.getAtt(queue, 'Arn')), 'Allowed', queue)
    }
    const url = loaded.resolver.resolve(loaded.template.Resources.WebhookEventsFunction.Properties.Environment.Variables.FAILED_RECORDS_QUEUE_URL)
    assert.equal(url, loaded.resolver.ref('FailedRecordsQueue'))
  })

  test('any other queue, or reading its own, is denied', async () => {
    for (const queue of ['TenantJobsDeadLetterQueue', 'AsyncFailuresQueue']) {
      assert.notEqual(await asFunction('WebhookEventsFunction', 'sqs:SendMessage', loaded.resolver.getAtt(queue, 'Arn')), 'Allowed', queue)
    }
    assert.notEqual(await asFunction('WebhookEventsFunction', 'sqs:SendMessage', queueArn('othertenantry-stream-records-failed')), 'Allowed')
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:PurgeQueue']) {
      assert.notEqual(await asFunction('WebhookEventsFunction', action, loaded.resolver.getAtt('FailedRecordsQueue', 'Arn')), 'Allowed', action)
    }
  })
})

// ------------------------------------------------------------------ mail
describe('mail leaves from MailFrom, through the stack\'s configuration set', () => {
  const SENDERS = ['BillingApiFunction', 'BillingSweepFunction', 'PostConfirmationFunction', 'WebhookDeliverFunction']
  const configurationSet = (name) => `arn:${partition}:ses:${region}:${accountId}:configuration-set/${name}`
  const identity = `arn:${partition}:ses:${region}:${accountId}:identity/tenantry.example`
  for (const id of SENDERS) {
    test(`${id}: SendEmail through ${stackName}-mail from MailFrom is allowed; another set or sender is not`, async () => {
      const from = { 'ses:FromAddress': DEPLOYMENT.parameters.MailFrom }
      assert.equal(await asFunction(id, 'ses:SendEmail', identity, from), 'Allowed')
      assert.equal(await asFunction(id, 'ses:SendEmail', configurationSet(`${stackName}-mail`), from), 'Allowed')
      assert.notEqual(await asFunction(id, 'ses:SendEmail', configurationSet('another-set'), from), 'Allowed')
      assert.notEqual(await asFunction(id, 'ses:SendEmail', configurationSet(`${stackName}-mail`), { 'ses:FromAddress': 'someone@else.example' }), 'Allowed')
      const variables = loaded.template.Resources[id].Properties.Environment.Variables
      assert.equal(loaded.resolver.resolve(variables.MAIL_CONFIGURATION_SET), `${stackName}-mail`)
    })
  }
})

// ------------------------------------------------------------------ CodeDeploy
describe('the deployment role: CodeDeploy moves this stack\'s aliases, reads its alarms', () => {
  let role
  before(() => {
    role = roleOf(loaded, 'DeploymentRole')
  })
  const ask = (action, resource, principal = role.sessionArn) =>
    evaluate({ principal, action, resource, identityPolicies: role.policies })

  test('only CodeDeploy may assume it', async () => {
    const assume = (principal) =>
      evaluate({ principal, action: 'sts:AssumeRole', resource: role.arn, resourcePolicy: role.trustPolicy })
    assert.equal(await assume('codedeploy.amazonaws.com'), 'Allowed')
    for (const principal of ['lambda.amazonaws.com', 'cloudformation.amazonaws.com', names.accountRoot, names.session('tenantry-operator', 'someone')]) {
      assert.notEqual(await assume(principal), 'Allowed', principal)
    }
  })

  test("each function's live alias is shifted; another stack's function, or its code, is not", async () => {
    for (const fn of Object.values(loaded.functions)) {
      const name = fn.sessionArn.split('/').pop()
      for (const action of ['lambda:GetAlias', 'lambda:UpdateAlias']) {
        assert.equal(await ask(action, lambdaArn(name)), 'Allowed', `${action} ${name}`)
        assert.equal(await ask(action, lambdaArn(`${name}:live`)), 'Allowed', `${action} ${name}:live`)
      }
      assert.notEqual(await ask('lambda:UpdateFunctionCode', lambdaArn(name)), 'Allowed')
      assert.notEqual(await ask('lambda:InvokeFunction', lambdaArn(`${name}:live`)), 'Allowed')
    }
    assert.notEqual(await ask('lambda:UpdateAlias', lambdaArn(`other${stackName}-products-api:live`)), 'Allowed')
    assert.notEqual(await ask('lambda:UpdateAlias', lambdaArn(`${stackName}-dev-products-api:live`)), 'Allowed')
  })

  test("the stack's alarms are read; other alarms are not", async () => {
    const alarm = (name) => `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:${name}`
    assert.equal(await ask('cloudwatch:DescribeAlarms', alarm(`${stackName}-products-api-errors`)), 'Allowed')
    assert.notEqual(await ask('cloudwatch:DescribeAlarms', alarm('billing-alarm')), 'Allowed')
    assert.notEqual(await ask('cloudwatch:PutMetricAlarm', alarm(`${stackName}-products-api-errors`)), 'Allowed')
  })
})

// ------------------------------------------------------------------ API Gateway's logging role
describe("API Gateway's logging role writes logs, nothing else", () => {
  let role
  before(() => {
    role = roleOf(loaded, 'ApiGatewayLogsRole')
  })
  const logStream = (group) => `arn:${partition}:logs:${region}:${accountId}:log-group:${group}:log-stream:abc`

  test('only API Gateway may assume it', async () => {
    const assume = (principal) =>
      evaluate({ principal, action: 'sts:AssumeRole', resource: role.arn, resourcePolicy: role.trustPolicy })
    assert.equal(await assume('apigateway.amazonaws.com'), 'Allowed')
    for (const principal of ['lambda.amazonaws.com', names.accountRoot]) {
      assert.notEqual(await assume(principal), 'Allowed', principal)
    }
  })

  test('it writes log events in this region; it deletes nothing and reaches nothing else', async () => {
    const ask = (action, resource) => evaluate({ principal: role.sessionArn, action, resource, identityPolicies: role.policies })
    assert.equal(await ask('logs:PutLogEvents', logStream(`/aws/apigateway/${stackName}-api`)), 'Allowed')
    assert.equal(await ask('logs:PutLogEvents', logStream('API-Gateway-Execution-Logs_abc/prod')), 'Allowed')
    assert.notEqual(await ask('logs:PutLogEvents', `arn:${partition}:logs:eu-west-1:${accountId}:log-group:x:log-stream:abc`), 'Allowed')
    assert.notEqual(await ask('logs:DeleteLogGroup', `arn:${partition}:logs:${region}:${accountId}:log-group:/aws/apigateway/${stackName}-api`), 'Allowed')
    assert.notEqual(await ask('dynamodb:GetItem', loaded.resolver.getAtt('ControlTable', 'Arn')), 'Allowed')
  })
})

// ------------------------------------------------------------------ resource policies
describe('the logs bucket takes the console bucket\'s access logs, over TLS only', () => {
  let policy, bucketArn, consoleBucketArn
  before(() => {
    policy = resourcePolicyOf(loaded, 'LogsBucketPolicy')
    bucketArn = loaded.resolver.getAtt('LogsBucket', 'Arn')
    consoleBucketArn = loaded.resolver.getAtt('ConsoleBucket', 'Arn')
  })
  const deliver = (key, context) =>
    evaluate({ principal: 'logging.s3.amazonaws.com', action: 's3:PutObject', resource: `${bucketArn}/${key}`, context, resourcePolicy: policy })

  test("S3's log delivery for the console bucket of this account is allowed", async () => {
    assert.equal(await deliver('console-bucket/2026-01-01-x', { 'aws:SourceAccount': accountId, 'aws:SourceArn': consoleBucketArn, 'aws:SecureTransport': 'true' }), 'Allowed')
  })

  test('for another account, another bucket, or another prefix, it is denied', async () => {
    assert.notEqual(await deliver('console-bucket/x', { 'aws:SourceAccount': OTHER_ACCOUNT, 'aws:SourceArn': consoleBucketArn, 'aws:SecureTransport': 'true' }), 'Allowed')
    assert.notEqual(await deliver('console-bucket/x', { 'aws:SourceAccount': accountId, 'aws:SourceArn': 'arn:aws:s3:::someone-elses', 'aws:SecureTransport': 'true' }), 'Allowed')
    assert.notEqual(await deliver('cloudfront/x', { 'aws:SourceAccount': accountId, 'aws:SourceArn': consoleBucketArn, 'aws:SecureTransport': 'true' }), 'Allowed')
  })

  test('any request without TLS is denied explicitly, even by the account', async () => {
    const result = await evaluate({
      principal: names.session('tenantry-operator', 'someone'),
      action: 's3:GetObject',
      resource: `${bucketArn}/cloudfront/x`,
      context: { 'aws:SecureTransport': 'false' },
      identityPolicies: [{ name: 'all', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] } }],
      resourcePolicy: policy
    })
    assert.equal(result, 'ExplicitlyDenied')
  })
})

describe("the console bucket is read by this stack's distribution only", () => {
  test('CloudFront for this distribution reads; for another, it does not', async () => {
    const policy = resourcePolicyOf(loaded, 'ConsoleBucketPolicy')
    const bucketArn = loaded.resolver.getAtt('ConsoleBucket', 'Arn')
    const read = (distribution) =>
      evaluate({
        principal: 'cloudfront.amazonaws.com',
        action: 's3:GetObject',
        resource: `${bucketArn}/index.html`,
        context: { 'aws:SourceArn': `arn:${partition}:cloudfront::${accountId}:distribution/${distribution}`, 'aws:SecureTransport': 'true' },
        resourcePolicy: policy
      })
    assert.equal(await read(loaded.resolver.ref('ConsoleDistribution')), 'Allowed')
    assert.notEqual(await read('EOTHERDISTRIBUTION'), 'Allowed')
  })
})

describe("the stack's key: CloudWatch Logs for this stack's groups, CloudWatch alarms for the topic", () => {
  let policy, keyArn
  before(() => {
    policy = resourcePolicyOf(loaded, 'OperationsKey')
    keyArn = loaded.resolver.getAtt('OperationsKey', 'Arn')
  })
  const use = (principal, action, context = {}) => evaluate({ principal, action, resource: keyArn, context, resourcePolicy: policy })

  test('CloudWatch encrypts for the alarm topic; another service, or another account, does not', async () => {
    assert.equal(await use('cloudwatch.amazonaws.com', 'kms:GenerateDataKey'), 'Allowed')
    assert.notEqual(await use('cloudwatch.amazonaws.com', 'kms:ScheduleKeyDeletion'), 'Allowed')
    assert.notEqual(await use('s3.amazonaws.com', 'kms:Decrypt'), 'Allowed')
    assert.notEqual(await use(`arn:aws:iam::${OTHER_ACCOUNT}:root`, 'kms:Decrypt'), 'Allowed')
  })

  test("CloudWatch Logs needs the encryption context of one of this stack's log groups", async () => {
    // The evaluator cannot read kms:EncryptionContext:<key> (a key with a colon in its
    // variable part): without it the request is denied, and the condition is read as written.
    assert.notEqual(await use(`logs.${region}.amazonaws.com`, 'kms:GenerateDataKey'), 'Allowed')
    const statement = policy.Statement.find((s) => s.Principal?.Service === `logs.${region}.amazonaws.com`)
    assert.deepEqual(Object.keys(statement.Condition), ['ArnLike'])
    const logGroup = (name) => `arn:${partition}:logs:${region}:${accountId}:log-group:${name}`
    assert.deepEqual(statement.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn'], [
      logGroup(`/aws/lambda/${stackName}-*`),
      logGroup(`/aws/apigateway/${stackName}-*`),
      logGroup(`aws-waf-logs-${stackName}-*`)
    ])
    assert.ok(!statement.Action.includes('kms:*') && !statement.Action.some((a) => /Delete|Disable|Put|Create/.test(a)))
  })

  test('every log group of the template is under one of those names', () => {
    for (const [id, resource] of Object.entries(loaded.template.Resources)) {
      if (resource.Type !== 'AWS::Logs::LogGroup') continue
      const name = loaded.resolver.resolve(resource.Properties.LogGroupName)
      assert.match(name, new RegExp(`^(/aws/lambda/|/aws/apigateway/|aws-waf-logs-)${stackName}-`), id)
    }
  })
})

describe("Cognito invokes the triggers' live aliases, from this pool only", () => {
  for (const trigger of ['PreSignUp', 'PostConfirmation', 'CustomMessage', 'PreTokenGeneration']) {
    test(`${trigger}Permission`, () => {
      const props = loaded.template.Resources[`${trigger}Permission`].Properties
      assert.deepEqual(props.FunctionName, { Ref: `${trigger}Function.Alias` })
      assert.equal(props.Principal, 'cognito-idp.amazonaws.com')
      assert.equal(loaded.resolver.resolve(props.SourceArn), loaded.resolver.getAtt('UserPool', 'Arn'))
    })
  }
})

// ------------------------------------------------------------------ nothing unproved
// Where each role and policy of the template is evaluated. A new one fails this test until a
// test evaluates it and it is listed here.
const PROVED = {
  TenantDataRole: 'lib/checks.mjs (checks 1 to 7)',
  PreTokenGenerationReadsPool: 'pre-token-generation, above',
  DeploymentRole: 'the deployment role, above',
  ApiGatewayLogsRole: "API Gateway's logging role, above",
  LogsBucketPolicy: 'the logs bucket, above',
  ConsoleBucketPolicy: 'the console bucket, above',
  OperationsKey: "the stack's key, above",
  PreSignUpPermission: 'the triggers, above',
  PostConfirmationPermission: 'the triggers, above',
  CustomMessagePermission: 'the triggers, above',
  PreTokenGenerationPermission: 'the triggers, above'
}
const POLICY_TYPES = [
  'AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::User', 'AWS::IAM::Group',
  'AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy', 'AWS::KMS::Key',
  'AWS::Lambda::Permission', 'AWS::Events::EventBusPolicy', 'AWS::Logs::ResourcePolicy'
]
test('every role and policy of the template is evaluated somewhere', () => {
  const found = Object.entries(loaded.template.Resources)
    .filter(([, resource]) => POLICY_TYPES.includes(resource.Type))
    .map(([id]) => id)
  assert.deepEqual(found.filter((id) => !(id in PROVED)), [], 'roles or policies no test evaluates')
  assert.deepEqual(Object.keys(PROVED).filter((id) => !found.includes(id)), [], 'listed here but gone from the template')
  // The functions' roles (SAM makes them from their Policies) are evaluated by lib/checks.mjs
  // and above, with every statement the template gives them: none may be unreadable.
  for (const [id, fn] of Object.entries(loaded.functions)) {
    assert.equal(fn.unsupported, undefined, id)
  }
})
