// What the evaluator (@cloud-copilot/iam-simulate) does with the features the tenant isolation
// relies on, shown on the policies of template.yaml itself. If an upgrade of the library changed
// any of this, the checks in lib/checks.mjs could no longer be trusted: these tests say so first.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { TENANT_A, TENANT_B } from './lib/checks.mjs'
import { evaluate, SimulationError } from './lib/simulate.mjs'
import { arns, loadPolicies, readTemplateText } from './lib/template.mjs'

const names = arns()
let loaded, pooled, session

before(() => {
  loaded = loadPolicies(readTemplateText())
  pooled = loaded.resolver.getAtt('DataTable', 'Arn')
  session = names.session(loaded.tenantDataRole.roleName, 'tenant-session')
})

/** One request of a tenant-data session, with the role's policies from the template. */
function asTenant(action, context, resource = pooled) {
  return evaluate({ principal: session, action, resource, context, identityPolicies: loaded.tenantDataRole.policies })
}

describe('ForAllValues over a multi-valued dynamodb:LeadingKeys', () => {
  test('every value must match: all of A allowed', async () => {
    const keys = [`${TENANT_A}#PRODUCT#0`, `${TENANT_A}#PRODUCT#1`, `${TENANT_A}#ORDER#2`, `${TENANT_A}#COUNTER`]
    assert.equal(await asTenant('dynamodb:BatchGetItem', { 'aws:PrincipalTag/TenantId': TENANT_A, 'dynamodb:LeadingKeys': keys }), 'Allowed')
  })

  test('one value of another tenant denies the whole request, wherever it is in the list', async () => {
    for (const keys of [
      [`${TENANT_A}#PRODUCT#0`, `${TENANT_B}#PRODUCT#0`],
      [`${TENANT_B}#PRODUCT#0`, `${TENANT_A}#PRODUCT#0`],
      [`${TENANT_A}#PRODUCT#0`, `${TENANT_A}#PRODUCT#1`, `${TENANT_B}#COUNTER`]
    ]) {
      assert.equal(
        await asTenant('dynamodb:BatchGetItem', { 'aws:PrincipalTag/TenantId': TENANT_A, 'dynamodb:LeadingKeys': keys }),
        'ImplicitlyDenied',
        JSON.stringify(keys)
      )
    }
  })

  test('a single string value is treated as a one-element set', async () => {
    assert.equal(await asTenant('dynamodb:GetItem', { 'aws:PrincipalTag/TenantId': TENANT_A, 'dynamodb:LeadingKeys': `${TENANT_A}#PRODUCT#0` }), 'Allowed')
    assert.equal(await asTenant('dynamodb:GetItem', { 'aws:PrincipalTag/TenantId': TENANT_A, 'dynamodb:LeadingKeys': `${TENANT_B}#PRODUCT#0` }), 'ImplicitlyDenied')
  })
})

describe('ForAllValues on an empty set', () => {
  // ForAllValues is true for an empty set (and for a missing key): "every value matches" holds
  // vacuously. So the LeadingKeys condition protects only requests that name a partition key.
  // Every action the tenant-data role grants always names one: GetItem, PutItem, UpdateItem,
  // DeleteItem and ConditionCheckItem take the full primary key; BatchGetItem takes at least one
  // key; a Query's KeyConditionExpression must test the partition key for equality, so Query
  // always names exactly one (our store's queries do: one tenant shard each). Scan names none and
  // would be let through by this condition: that is why Scan (and PartiQL, and BatchWriteItem)
  // must never be granted, which check 6 proves. (DESIGN.md §3.)
  test('the evaluator says Allowed for an empty LeadingKeys set, as IAM does', async () => {
    for (const action of ['dynamodb:Query', 'dynamodb:GetItem']) {
      assert.equal(await asTenant(action, { 'aws:PrincipalTag/TenantId': TENANT_A, 'dynamodb:LeadingKeys': [] }), 'Allowed', action)
    }
  })

  test('and the same for a request without the key at all', async () => {
    assert.equal(await asTenant('dynamodb:Query', { 'aws:PrincipalTag/TenantId': TENANT_A }), 'Allowed')
  })

  test('but not without the TenantId tag: the role\'s Null condition requires it', async () => {
    // The LeadingKeys variable is never compared when no key is named, so without the
    // "Null": {"aws:PrincipalTag/TenantId": "false"} condition an untagged session would pass here.
    // Every session carries the tag anyway (check 7: the trust policy refuses AssumeRole without it).
    assert.equal(await asTenant('dynamodb:Query', { 'dynamodb:LeadingKeys': [] }), 'ImplicitlyDenied')
  })

  test('Scan carries no LeadingKeys at all (IAM defines none for it): only its absence from the role protects', async () => {
    await assert.rejects(
      asTenant('dynamodb:Scan', { 'aws:PrincipalTag/TenantId': TENANT_A, 'dynamodb:LeadingKeys': [`${TENANT_A}#PRODUCT#0`] }),
      SimulationError
    )
    assert.equal(await asTenant('dynamodb:Scan', { 'aws:PrincipalTag/TenantId': TENANT_A }), 'ImplicitlyDenied')
  })
})

describe('${aws:PrincipalTag/TenantId} comes from the session tags', () => {
  test('the same request flips with the tag', async () => {
    const keys = [`${TENANT_A}#PRODUCT#0`]
    assert.equal(await asTenant('dynamodb:GetItem', { 'aws:PrincipalTag/TenantId': TENANT_A, 'dynamodb:LeadingKeys': keys }), 'Allowed')
    assert.equal(await asTenant('dynamodb:GetItem', { 'aws:PrincipalTag/TenantId': TENANT_B, 'dynamodb:LeadingKeys': keys }), 'ImplicitlyDenied')
  })

  test('without the tag the variable matches nothing', async () => {
    assert.equal(await asTenant('dynamodb:GetItem', { 'dynamodb:LeadingKeys': [`${TENANT_A}#PRODUCT#0`] }), 'ImplicitlyDenied')
    assert.equal(await asTenant('dynamodb:GetItem', { 'dynamodb:LeadingKeys': ['#PRODUCT#0'] }), 'ImplicitlyDenied')
  })

  test('the tag value is substituted literally, not as a wildcard', async () => {
    // STS would refuse such a tag anyway: session tag values may hold only letters, digits,
    // spaces and _ . : / = + - @ (no *, ? or #).
    for (const tag of ['*', '?*', '01JB8Z4K2M6Q9R3T5V7W9X????']) {
      assert.equal(
        await asTenant('dynamodb:GetItem', { 'aws:PrincipalTag/TenantId': tag, 'dynamodb:LeadingKeys': [`${TENANT_B}#PRODUCT#0`] }),
        'ImplicitlyDenied',
        tag
      )
    }
  })

  test('tag keys are matched case-insensitively, values case-sensitively', async () => {
    const keys = [`${TENANT_A}#PRODUCT#0`]
    assert.equal(await asTenant('dynamodb:GetItem', { 'aws:PrincipalTag/tenantid': TENANT_A, 'dynamodb:LeadingKeys': keys }), 'Allowed')
    assert.equal(await asTenant('dynamodb:GetItem', { 'aws:PrincipalTag/TenantId': TENANT_A.toLowerCase(), 'dynamodb:LeadingKeys': keys }), 'ImplicitlyDenied')
  })
})

describe('the strict wrapper', () => {
  test('refuses a context key IAM does not define for the action (instead of dropping it)', async () => {
    await assert.rejects(
      evaluate({ principal: session, action: 'dynamodb:DeleteTable', resource: pooled, context: { 'dynamodb:LeadingKeys': ['x'] }, identityPolicies: loaded.tenantDataRole.policies }),
      /dropped context keys/
    )
  })

  test('refuses an unknown action', async () => {
    await assert.rejects(
      evaluate({ principal: session, action: 'dynamodb:GetItems', resource: pooled, identityPolicies: loaded.tenantDataRole.policies }),
      /refused/
    )
  })
})

describe('trust policies: evaluated as the role resource policy of sts:AssumeRole', () => {
  // iam-simulate has no separate trust-policy API: a role's trust policy is the resource policy of
  // sts:AssumeRole / sts:TagSession on the role's ARN, with the STS rule that a trust policy must
  // admit the caller explicitly even in the same account.
  const tags = { 'aws:RequestTag/TenantId': TENANT_A, 'aws:TagKeys': ['TenantId'] }

  test("a session of a role named in the trust policy matches that role's ARN", async () => {
    const fn = loaded.functions.ProductsApiFunction
    assert.match(fn.sessionArn, /^arn:aws:sts::123456789012:assumed-role\/tenantry-ProductsApiFunctionRole-ABC\//)
    const result = await evaluate({ principal: fn.sessionArn, action: 'sts:AssumeRole', resource: loaded.tenantDataRole.arn, context: tags, identityPolicies: fn.policies, resourcePolicy: loaded.tenantDataRole.trustPolicy })
    assert.equal(result, 'Allowed')
  })

  test('a trust policy naming the role suffices on its own in the same account', async () => {
    const fn = loaded.functions.ProductsApiFunction
    const result = await evaluate({ principal: fn.sessionArn, action: 'sts:AssumeRole', resource: loaded.tenantDataRole.arn, context: tags, identityPolicies: [], resourcePolicy: loaded.tenantDataRole.trustPolicy })
    assert.equal(result, 'Allowed')
  })

  test('a trust policy that admits the account root defers to the identity policy', async () => {
    const trustsAccount = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: names.accountRoot }, Action: 'sts:AssumeRole' }] }
    const principal = names.session('tenantry-operator', 'someone')
    const without = await evaluate({ principal, action: 'sts:AssumeRole', resource: loaded.tenantDataRole.arn, context: tags, identityPolicies: [], resourcePolicy: trustsAccount })
    assert.equal(without, 'ImplicitlyDenied')
    const withPolicy = await evaluate({
      principal,
      action: 'sts:AssumeRole',
      resource: loaded.tenantDataRole.arn,
      context: tags,
      identityPolicies: [{ name: 'p', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] } }],
      resourcePolicy: trustsAccount
    })
    assert.equal(withPolicy, 'Allowed')
  })
})
