// Reading the policies out of template.yaml: short-form tags, intrinsic functions, and IAM's own
// policy variables left alone.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { loadPolicies, parseTemplate, readTemplateText, Resolver } from './lib/template.mjs'

describe('parsing CloudFormation short forms', () => {
  test('every short form becomes its long form', () => {
    const t = parseTemplate(`
Resources: {}
A: !Ref X
B: !GetAtt T.Arn
C: !GetAtt [T, Arn]
D: !Sub "\${AWS::StackName}-x"
E: !Sub ["\${a}", {a: !Ref Y}]
F: !If [Cond, !Join ["-", [a, b]], !Ref AWS::NoValue]
G: !Equals [!Ref P, V2_0]
`)
    assert.deepEqual(t.A, { Ref: 'X' })
    assert.deepEqual(t.B, { 'Fn::GetAtt': ['T', 'Arn'] })
    assert.deepEqual(t.C, { 'Fn::GetAtt': ['T', 'Arn'] })
    assert.deepEqual(t.D, { 'Fn::Sub': '${AWS::StackName}-x' })
    assert.deepEqual(t.E, { 'Fn::Sub': ['${a}', { a: { Ref: 'Y' } }] })
    assert.deepEqual(t.F, { 'Fn::If': ['Cond', { 'Fn::Join': ['-', ['a', 'b']] }, { Ref: 'AWS::NoValue' }] })
    assert.deepEqual(t.G, { 'Fn::Equals': [{ Ref: 'P' }, 'V2_0'] })
  })

  test('a duplicate key is an error, not a silent override', () => {
    assert.throws(() => parseTemplate('Resources: {}\nA: 1\nA: 2\n'), /does not parse/)
  })
})

describe('resolving intrinsic functions', () => {
  let template, resolver
  before(() => {
    template = parseTemplate(readTemplateText())
    resolver = new Resolver(template)
  })

  test('pseudo parameters', () => {
    assert.equal(resolver.sub('${AWS::Partition}|${AWS::Region}|${AWS::AccountId}|${AWS::StackName}'), 'aws|us-east-1|123456789012|tenantry')
  })

  test('table ARNs', () => {
    assert.equal(resolver.getAtt('DataTable', 'Arn'), 'arn:aws:dynamodb:us-east-1:123456789012:table/tenantry-data')
    assert.equal(resolver.getAtt('ControlTable', 'Arn'), 'arn:aws:dynamodb:us-east-1:123456789012:table/tenantry-control')
    assert.equal(resolver.sub('${ControlTable.Arn}/index/gsi1'), 'arn:aws:dynamodb:us-east-1:123456789012:table/tenantry-control/index/gsi1')
  })

  test("role ARNs: SAM's generated function roles and the named tenant-data role", () => {
    assert.equal(resolver.getAtt('ProductsApiFunctionRole', 'Arn'), 'arn:aws:iam::123456789012:role/tenantry-ProductsApiFunctionRole-ABC')
    assert.equal(resolver.getAtt('TenantDataRole', 'Arn'), 'arn:aws:iam::123456789012:role/tenantry-tenant-data')
    assert.throws(() => resolver.getAtt('NoSuchFunctionRole', 'Arn'))
  })

  test('SQS queue ARNs and URLs (a named queue and one named by CloudFormation)', () => {
    const queues = new Resolver(parseTemplate(`
Resources:
  Named: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub "\${AWS::StackName}-failed"}}
  Unnamed: {Type: AWS::SQS::Queue}
`))
    assert.equal(queues.getAtt('Named', 'Arn'), 'arn:aws:sqs:us-east-1:123456789012:tenantry-failed')
    assert.equal(queues.ref('Named'), 'https://sqs.us-east-1.amazonaws.com/123456789012/tenantry-failed')
    assert.equal(queues.getAtt('Unnamed', 'Arn'), 'arn:aws:sqs:us-east-1:123456789012:tenantry-Unnamed-ABC')
  })

  test('conditions use parameter defaults (V3_0 events: the Essentials plan)', () => {
    assert.equal(resolver.resolve(template.Resources.UserPool.Properties.UserPoolTier), 'ESSENTIALS')
  })

  test('${!Literal} is literal and an unresolvable name is an error', () => {
    assert.equal(resolver.sub('${!aws:username}'), '${aws:username}')
    assert.throws(() => resolver.sub('${aws:PrincipalTag/TenantId}#*'), /cannot resolve/)
    assert.throws(() => resolver.sub('${NoSuchThing}'), /cannot resolve/)
  })
})

describe('the policies read from template.yaml', () => {
  let loaded
  before(() => {
    loaded = loadPolicies(readTemplateText())
  })

  test("the tenant-data role's policy keeps the IAM policy variable untouched", () => {
    const json = JSON.stringify(loaded.tenantDataRole.policies)
    assert.match(json, /\$\{aws:PrincipalTag\/TenantId\}/)
    assert.doesNotMatch(json, /\$\{AWS::|Fn::|"Ref"/, 'every CloudFormation intrinsic is resolved')
    assert.match(json, /arn:aws:dynamodb:us-east-1:123456789012:table\/tenantry-data"/)
    assert.equal(loaded.tenantDataRole.policies.every((p) => p.policy.Version === '2012-10-17'), true, 'policy variables need Version 2012-10-17')
  })

  test('the trust policy names the three data-API roles by their resolved ARNs', () => {
    const principals = loaded.tenantDataRole.trustPolicy.Statement.flatMap((s) => [s.Principal.AWS].flat())
    assert.deepEqual(principals.sort(), [
      'arn:aws:iam::123456789012:role/tenantry-OrdersApiFunctionRole-ABC',
      'arn:aws:iam::123456789012:role/tenantry-ProductsApiFunctionRole-ABC',
      'arn:aws:iam::123456789012:role/tenantry-TenantsApiFunctionRole-ABC'
    ])
  })

  test("each data API's TENANT_ROLE_ARN and AssumeRole resource are the tenant-data role's ARN", () => {
    for (const id of ['ProductsApiFunction', 'OrdersApiFunction', 'TenantsApiFunction']) {
      const env = loaded.resolver.resolve(loaded.template.Resources[id].Properties.Environment.Variables.TENANT_ROLE_ARN)
      assert.equal(env, loaded.tenantDataRole.arn, id)
      const assume = loaded.functions[id].policies.flatMap((p) => p.policy.Statement).filter((s) => [s.Action].flat().includes('sts:AssumeRole'))
      assert.deepEqual(assume.map((s) => s.Resource), [loaded.tenantDataRole.arn], id)
    }
  })

  test("the function roles hold the template's Policies plus SAM's managed policies", () => {
    const products = loaded.functions.ProductsApiFunction
    assert.deepEqual(products.policies.map((p) => p.name), ['AWSLambdaBasicExecutionRole', 'AWSXrayWriteOnlyAccess', 'ProductsApiFunctionRolePolicy0'])
    assert.deepEqual(products.policies[2].policy.Statement.map((s) => s.Sid), ['AssumeTenantScopedRole', 'ReadTenantLocation'])
    assert.equal(products.unsupported, undefined)
  })
})
