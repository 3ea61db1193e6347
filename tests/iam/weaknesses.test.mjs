// Weaknesses an earlier version of template.yaml had, kept as guards now that the template is
// tightened: a tenant's credentials reach no other silo table (the silo resource is named after
// the session's TenantId tag), tenants-api cannot write memberships, and the trust policy accepts
// only a tenant-id-shaped tag.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { TENANT_A, TENANT_B } from './lib/checks.mjs'
import { evaluate } from './lib/simulate.mjs'
import { arns, loadPolicies, readTemplateText } from './lib/template.mjs'

const names = arns()
let loaded

/** A tenant-data session's PutItem of A's key on B's silo table (tagged TenantId=B). */
function crossSiloWrite(policies) {
  return evaluate({
    principal: names.session(loaded.tenantDataRole.roleName, 'tenant-session'),
    action: 'dynamodb:PutItem',
    resource: names.table(`tenantry-tenant-${TENANT_B}`),
    context: {
      'aws:PrincipalTag/TenantId': TENANT_A,
      'aws:ResourceTag/TenantId': TENANT_B,
      'dynamodb:LeadingKeys': [`${TENANT_A}#PRODUCT#0`]
    },
    identityPolicies: policies
  })
}

before(() => {
  loaded = loadPolicies(readTemplateText())
})

describe('fixed weaknesses stay fixed', () => {
  test(
    "a tenant's session cannot write into another tenant's silo table",
    async () => {
      assert.notEqual(await crossSiloWrite(loaded.tenantDataRole.policies), 'Allowed')
    }
  )

  test(
    "tenants-api's own role cannot write another user's membership",
    async () => {
      const fn = loaded.functions.TenantsApiFunction
      const result = await evaluate({
        principal: fn.sessionArn,
        action: 'dynamodb:PutItem',
        resource: loaded.resolver.getAtt('ControlTable', 'Arn'),
        context: { 'dynamodb:LeadingKeys': [`USER#${TENANT_B}`] },
        identityPolicies: fn.policies
      })
      assert.notEqual(result, 'Allowed')
    }
  )

  test(
    'the trust policy accepts only a tenant-id-shaped TenantId tag',
    async () => {
      const fn = loaded.functions.ProductsApiFunction
      const result = await evaluate({
        principal: fn.sessionArn,
        action: 'sts:AssumeRole',
        resource: loaded.tenantDataRole.arn,
        context: { 'aws:RequestTag/TenantId': 'x', 'aws:TagKeys': ['TenantId'] },
        identityPolicies: fn.policies,
        resourcePolicy: loaded.tenantDataRole.trustPolicy
      })
      assert.notEqual(result, 'Allowed')
    }
  )
})
