// Guards in template.yaml against weaknesses a looser policy would have, each checked here: a
// tenant's credentials reach no other silo table (the silo resource is named after the session's
// TenantId tag), tenants-api can neither read nor write memberships, users-api and
// post-confirmation write only TENANT#, USER# and EMAIL# items in the control table, and the
// trust policy accepts only a tenant-id-shaped tag.
//
// A denial proves nothing if the principal is never granted the action at all: each case asks
// for an action its principal does hold, shows that with a control request (the same principal
// and action on what it may reach: Allowed), and shows on a copy of the template with its guard
// removed that the request would then be allowed, so the denial is the guard's doing.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { TENANT_A, TENANT_B, USER_SUB } from './lib/checks.mjs'
import { evaluate } from './lib/simulate.mjs'
import { arns, loadPolicies, readTemplateText } from './lib/template.mjs'

const names = arns()

/** `text` with `pattern` (a string or a regex without the g flag), which must occur once, replaced. */
function withoutGuard(text, pattern, replacement) {
  const source = typeof pattern === 'string' ? pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : pattern.source
  const found = text.match(new RegExp(source, 'g')) ?? []
  assert.equal(found.length, 1, `the guard ${pattern} occurs ${found.length} times in template.yaml, not once: adjust it here`)
  return text.replace(new RegExp(source), replacement)
}

/** A tenant-data session tagged TenantId=A: PutItem of A's key on `tenant`'s silo table. */
function siloWrite(loaded, tenant) {
  return evaluate({
    principal: names.session(loaded.tenantDataRole.roleName, 'tenant-session'),
    action: 'dynamodb:PutItem',
    resource: names.table(`tenantry-tenant-${tenant}`),
    context: {
      'aws:PrincipalTag/TenantId': TENANT_A,
      'aws:ResourceTag/TenantId': tenant,
      'dynamodb:LeadingKeys': [`${TENANT_A}#PRODUCT#0`]
    },
    identityPolicies: loaded.tenantDataRole.policies
  })
}

/** tenants-api's own role: `action` on the control table item keyed `key`. */
function controlItem(loaded, action, key) {
  const fn = loaded.functions.TenantsApiFunction
  return evaluate({
    principal: fn.sessionArn,
    action,
    resource: loaded.resolver.getAtt('ControlTable', 'Arn'),
    context: { 'dynamodb:LeadingKeys': [key] },
    identityPolicies: fn.policies
  })
}

/** `functionId`'s own role: `action` on the control table item keyed `key`. */
function functionControlItem(loaded, functionId, action, key) {
  const fn = loaded.functions[functionId]
  return evaluate({
    principal: fn.sessionArn,
    action,
    resource: loaded.resolver.getAtt('ControlTable', 'Arn'),
    context: { 'dynamodb:LeadingKeys': [key] },
    identityPolicies: fn.policies
  })
}

/** The LeadingKeys condition of the control-table statement `sid`, removed. */
const withoutKindsCondition = (sid) => (text) =>
  withoutGuard(
    text,
    new RegExp(`(\\n *- Sid: ${sid}\\n(?: .*\\n)*?)( *)Condition:\\n\\2 {2}ForAllValues:StringLike:\\n\\2 {4}dynamodb:LeadingKeys: \\["TENANT#\\*", "USER#\\*", "EMAIL#\\*"\\]\\n`),
    '$1'
  )

/** products-api's role assumes the tenant-data role with the session tag TenantId=`tag`. */
function assumeWithTag(loaded, tag) {
  const fn = loaded.functions.ProductsApiFunction
  return evaluate({
    principal: fn.sessionArn,
    action: 'sts:AssumeRole',
    resource: loaded.tenantDataRole.arn,
    context: { 'aws:RequestTag/TenantId': tag, 'aws:TagKeys': ['TenantId'] },
    identityPolicies: fn.policies,
    resourcePolicy: loaded.tenantDataRole.trustPolicy
  })
}

/**
 * Each case: `attempt` must be denied, `control` (same principal and action) allowed, and
 * `guard.remove` turns the template text into one where `attempt` is allowed.
 */
const CASES = [
  {
    name: "a tenant's session cannot write into another tenant's silo table",
    attempt: (loaded) => siloWrite(loaded, TENANT_B),
    control: { name: 'its own silo table', request: (loaded) => siloWrite(loaded, TENANT_A) },
    guard: {
      name: "the silo statement's table named after the session's tag",
      remove: (text) =>
        withoutGuard(text, ':table/${AWS::StackName}-tenant-${!aws:PrincipalTag/TenantId}"', ':table/${AWS::StackName}-tenant-*"')
    }
  },
  // tenants-api holds GetItem (ReadTenantRecord) and UpdateItem (ChangeTenantSettings) on the
  // control table, for TENANT# keys only; it is never granted PutItem, so a PutItem would be
  // denied with or without that condition.
  ...[
    ['dynamodb:UpdateItem', 'ChangeTenantSettings'],
    ['dynamodb:GetItem', 'ReadTenantRecord']
  ].map(([action, sid]) => ({
    name: `tenants-api's own role cannot ${action === 'dynamodb:GetItem' ? 'read' : 'write'} another user's membership (${action})`,
    attempt: (loaded) => controlItem(loaded, action, `USER#${TENANT_B}`),
    control: { name: 'its tenant record', request: (loaded) => controlItem(loaded, action, `TENANT#${TENANT_A}`) },
    guard: {
      name: `the TENANT# LeadingKeys condition of ${sid}`,
      // The LeadingKeys condition goes; a Condition left empty goes with it.
      remove: (text) =>
        withoutGuard(
          text,
          new RegExp(`(\\n *- Sid: ${sid}\\n(?: .*\\n)*? *Condition:\\n)( *)ForAllValues:StringLike:\\n\\2 {2}dynamodb:LeadingKeys: \\["TENANT#\\*"\\]\\n`),
          '$1'
        ).replace(/\n( *)Condition:\n(?!\1 )/, '\n')
    }
  })),
  // users-api and post-confirmation hold PutItem on the control table for the item kinds they
  // write; a tier migration's record and tenant data keys are not among them.
  {
    name: "users-api's own role cannot write a tier migration's record (PutItem MIGRATION#)",
    attempt: (loaded) => functionControlItem(loaded, 'UsersApiFunction', 'dynamodb:PutItem', `MIGRATION#${TENANT_A}`),
    control: {
      name: 'a membership',
      request: (loaded) => functionControlItem(loaded, 'UsersApiFunction', 'dynamodb:PutItem', `USER#${USER_SUB}`)
    },
    guard: { name: 'the LeadingKeys condition of ManageMembers', remove: withoutKindsCondition('ManageMembers') }
  },
  {
    name: "post-confirmation's own role cannot write a tenant data key into the control table (PutItem <tenant>#PRODUCT#0)",
    attempt: (loaded) => functionControlItem(loaded, 'PostConfirmationFunction', 'dynamodb:PutItem', `${TENANT_A}#PRODUCT#0`),
    control: {
      name: 'the new tenant record',
      request: (loaded) => functionControlItem(loaded, 'PostConfirmationFunction', 'dynamodb:PutItem', `TENANT#${TENANT_A}`)
    },
    guard: { name: 'the LeadingKeys condition of OnboardTenant', remove: withoutKindsCondition('OnboardTenant') }
  },
  {
    name: 'the trust policy accepts only a tenant-id-shaped TenantId tag',
    attempt: (loaded) => assumeWithTag(loaded, 'x'),
    control: { name: 'a tenant id as the tag', request: (loaded) => assumeWithTag(loaded, TENANT_A) },
    guard: {
      name: 'the 26-character pattern of the TenantId tag',
      remove: (text) => withoutGuard(text, 'aws:RequestTag/TenantId: "??????????????????????????"', 'aws:RequestTag/TenantId: "*"')
    }
  }
]

let text
let loaded
before(() => {
  text = readTemplateText()
  loaded = loadPolicies(text)
})

describe('fixed weaknesses stay fixed', () => {
  for (const { name, attempt, control } of CASES) {
    test(name, async () => {
      assert.equal(await control.request(loaded), 'Allowed', `the control (${control.name}) is allowed: the action is granted`)
      assert.notEqual(await attempt(loaded), 'Allowed')
    })
  }
})

describe('each of them is denied by its guard', () => {
  for (const { name, attempt, guard } of CASES) {
    test(`${name}: not without ${guard.name}`, async () => {
      const unguarded = loadPolicies(guard.remove(text))
      assert.equal(await attempt(unguarded), 'Allowed', `with ${guard.name} removed the request is allowed`)
    })
  }
})
