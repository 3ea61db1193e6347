// The IAM checks of template.yaml, as one function: check(templateText) -> failures.
//
// The policies are read out of the template text given (never copied here), resolved for a
// fixed imaginary deployment, and every expectation below is put to the IAM policy evaluator
// (@cloud-copilot/iam-simulate). The main test runs check() on template.yaml and expects no
// failure; the mutation tests run it on loosened copies and expect specific failures.
//
// A request the evaluator cannot evaluate exactly (unknown action, dropped context key, a policy
// form these tests cannot read) is a failure too: nothing passes by being skipped.

import { allowedContextKeysForRequest } from '@cloud-copilot/iam-simulate'
import { evaluate } from './simulate.mjs'
import { arns, DEPLOYMENT, loadPolicies } from './template.mjs'

// Tenant ids are ULIDs (26 characters, Crockford base32): see shared/src/ids.rs and keys.rs.
export const TENANT_A = '01JB8Z4K2M6Q9R3T5V7W9XAAAA'
export const TENANT_B = '01JB8Z4K2M6Q9R3T5V7W9XBBBB'

/** The item actions the tenant-data role grants (DESIGN.md: item actions and Query only). */
export const ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem'
]

/** Actions the tenant-data role must not have, even for its own tenant's keys. */
export const NOT_GRANTED_ACTIONS = [
  'dynamodb:Scan',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLSelect',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
  'dynamodb:DeleteTable',
  'dynamodb:CreateTable',
  'dynamodb:UpdateTable',
  'dynamodb:DescribeTable',
  'dynamodb:UpdateTimeToLive',
  'dynamodb:CreateBackup',
  'dynamodb:ExportTableToPointInTime',
  'dynamodb:TagResource'
]

/** The functions whose execution roles may assume the tenant-data role. */
export const DATA_API_FUNCTIONS = ['ProductsApiFunction', 'OrdersApiFunction', 'TenantsApiFunction']

export const CHECKS = [
  { id: '0.template', title: 'the template parses and its policies resolve' },
  { id: '1.own-tenant', title: "a session tagged TenantId=A reaches A's keys with every granted item action" },
  { id: '2.other-tenant', title: "another tenant's keys, alone or mixed with A's, are denied" },
  { id: '3.prefix-ids', title: 'tenant ids that are prefixes of each other are told apart by the delimiter' },
  { id: '4.unprefixed-keys', title: 'keys without the "<tenant>#" prefix are denied' },
  { id: '5.untagged-session', title: 'a session without the TenantId tag is denied' },
  { id: '6.not-granted', title: 'Scan and every other non-item action are denied, as is any other resource' },
  { id: '7.trust', title: 'the trust policy admits exactly the three data-API roles, with exactly a TenantId tag' },
  { id: '8.execution-roles', title: "the data APIs' own roles: no tenant data, limited control table, only the tenant-data role" },
  { id: '9.users-api', title: "users-api's role: its control-table actions on TENANT#, USER# and EMAIL# keys only" },
  { id: '10.post-confirmation', title: "post-confirmation's role: GetItem and PutItem on TENANT#, USER# and EMAIL# keys only" },
  { id: '11.billing-api', title: "billing-api's role: its control-table actions on TENANT#, CUSTOMER#, WEBHOOK# and USER# keys, and reading MIGRATION#, only" },
  { id: '12.billing-sweep', title: "billing-sweep's role: its control-table actions on TENANT# and USER# keys, reading MIGRATION#, and the index's BILLING partition only" },
  { id: '13.webhooks-api', title: "webhooks-api's role: its control-table actions on TENANT# keys and endpoints' queues (ENDPOINT#) only" },
  { id: '14.webhook-events', title: "webhook-events' role: reading TENANT# keys, queueing on ENDPOINT# keys, only" },
  { id: '15.webhook-deliver', title: "webhook-deliver's role: TENANT# and ENDPOINT# keys, holding e-mails, and the index's WEBHOOKS_FAILING partition only" },
  { id: '16.api-clients', title: "api-clients' role: TENANT# keys, writing and deleting API clients' records (APICLIENT#), and creating and deleting the user pool's app clients (never changing one, nor signing anyone in), only" },
  { id: '17.tenant-jobs', title: "tenant-jobs' role: changes and deletes the stack's silo tables only, reads the payment key only, invokes itself only" }
]

// A webhook endpoint's id (a ULID): its queue and attempts are under ENDPOINT#<id>.
export const ENDPOINT = '01JEXAMPLEWEBHOOK000000000'

// The ULID of an e-mail held in the outbox.
export const HELD = '01JEXAMPLEHELDMAIL00000000'

// A Cognito sub (a UUID): the user part of a membership key.
export const USER_SUB = '7d0c4b1e-3f6a-4c2e-9b8d-5a1e2f3c4d5e'

/**
 * The control-table grants of the functions that write members (checks 9 and 10), read from
 * what the code sends (shared/src/store/dynamo/control.rs; keys in shared/src/keys.rs): each
 * action it uses, with the partition keys (dynamodb:LeadingKeys) it uses it on. A transaction
 * is authorized item by item with these same actions. Every key denied below is denied with
 * each of these actions, next to these allowed requests, so no denial holds only because the
 * action is not granted at all.
 */
export const CONTROL_ROLES = {
  UsersApiFunction: {
    check: '9.users-api',
    uses: {
      // The caller's authority and a member's state (TransactGetItems: a GetItem per item), a
      // member entry (GetItem), a tenant record.
      'dynamodb:GetItem': [`TENANT#${TENANT_A}`, `USER#${USER_SUB}`],
      // The tenant's members: pk = TENANT#<id>, begins_with(sk, MEMBER#).
      'dynamodb:Query': [`TENANT#${TENANT_A}`],
      // The names of a person's organizations: tenant records only.
      'dynamodb:BatchGetItem': [`TENANT#${TENANT_A}`],
      // An invitation: the e-mail claim, then the profile and member entry; a new organization.
      'dynamodb:PutItem': [`EMAIL#someone@example.com`, `USER#${USER_SUB}`, `TENANT#${TENANT_A}`],
      // Seat counts and revocations in the tenant record, a role in entry and membership.
      'dynamodb:UpdateItem': [`TENANT#${TENANT_A}`, `USER#${USER_SUB}`],
      // A removal (member entry, membership, e-mail claim), a cancelled invitation.
      'dynamodb:DeleteItem': [`TENANT#${TENANT_A}`, `USER#${USER_SUB}`, `EMAIL#someone@example.com`]
    }
  },
  BillingApiFunction: {
    check: '11.billing-api',
    uses: {
      // An account and its tenant record, a customer's tenant, a handled event, a profile (to
      // rewrite one of the older layout), whether a migration runs.
      'dynamodb:GetItem': [`TENANT#${TENANT_A}`, 'CUSTOMER#cus_1', 'WEBHOOK#evt_1', `USER#${USER_SUB}`, `MIGRATION#${TENANT_A}`],
      // The members whose profiles get the tenant's new tier or status.
      'dynamodb:Query': [`TENANT#${TENANT_A}`],
      // A handled event's record, a customer's mapping, a profile rewritten, a held e-mail.
      'dynamodb:PutItem': ['WEBHOOK#evt_1', 'CUSTOMER#cus_1', `USER#${USER_SUB}`, `OUTBOX#${HELD}`],
      // The account and tenant record; the copies in profiles.
      'dynamodb:UpdateItem': [`TENANT#${TENANT_A}`, `USER#${USER_SUB}`]
    },
    // Its own reading of migration records, which the others may not touch.
    ownForeign: { 'dynamodb:GetItem': ['MIGRATION#'], 'dynamodb:PutItem': ['OUTBOX#'] },
    // Kinds the others use that this role may not.
    moreForeign: [['EMAIL#someone@example.com']]
  },
  BillingSweepFunction: {
    check: '12.billing-sweep',
    uses: {
      // An account and its tenant record, a profile (to rewrite one of the older layout),
      // whether a migration runs.
      'dynamodb:GetItem': [`TENANT#${TENANT_A}`, `USER#${USER_SUB}`, `MIGRATION#${TENANT_A}`],
      // The members whose profiles get the tenant's new status.
      'dynamodb:Query': [`TENANT#${TENANT_A}`],
      // A profile rewritten, a held e-mail kept.
      'dynamodb:PutItem': [`USER#${USER_SUB}`, `OUTBOX#${HELD}`],
      // A held e-mail, sent.
      'dynamodb:DeleteItem': [`OUTBOX#${HELD}`],
      // The account and tenant record; the copies in profiles.
      'dynamodb:UpdateItem': [`TENANT#${TENANT_A}`, `USER#${USER_SUB}`]
    },
    ownForeign: { 'dynamodb:GetItem': ['MIGRATION#'], 'dynamodb:PutItem': ['OUTBOX#'], 'dynamodb:DeleteItem': ['OUTBOX#'] },
    moreForeign: [['EMAIL#someone@example.com'], ['CUSTOMER#cus_1'], ['WEBHOOK#evt_1']],
    // The index partitions it queries; every other one (the operators' list of all tenants)
    // is denied.
    index: { 'dynamodb:Query': ['BILLING', 'OUTBOX'] }
  },
  WebhooksApiFunction: {
    check: '13.webhooks-api',
    uses: {
      // The caller's authority (tenant record, member entry), an endpoint.
      'dynamodb:GetItem': [`TENANT#${TENANT_A}`],
      // The tenant's endpoints; an endpoint's queue (to drop it) and attempts.
      'dynamodb:Query': [`TENANT#${TENANT_A}`, `ENDPOINT#${ENDPOINT}`],
      // An endpoint registered (whole), then changed a part at a time.
      'dynamodb:PutItem': [`TENANT#${TENANT_A}`],
      'dynamodb:UpdateItem': [`TENANT#${TENANT_A}`],
      'dynamodb:DeleteItem': [`TENANT#${TENANT_A}`],
      // A test event queued, a deleted endpoint's queue dropped.
      'dynamodb:BatchWriteItem': [`ENDPOINT#${ENDPOINT}`]
    },
    ownForeign: { 'dynamodb:Query': ['ENDPOINT#'], 'dynamodb:BatchWriteItem': ['ENDPOINT#'] },
    moreForeign: [['EMAIL#someone@example.com'], [`USER#${USER_SUB}`], ['CUSTOMER#cus_1'], ['WEBHOOK#evt_1']]
  },
  WebhookEventsFunction: {
    check: '14.webhook-events',
    uses: {
      // Where a tenant's data lives (its record).
      'dynamodb:GetItem': [`TENANT#${TENANT_A}`],
      // The tenant's endpoints.
      'dynamodb:Query': [`TENANT#${TENANT_A}`],
      // Deliveries queued.
      'dynamodb:BatchWriteItem': [`ENDPOINT#${ENDPOINT}`]
    },
    ownForeign: { 'dynamodb:BatchWriteItem': ['ENDPOINT#'] },
    moreForeign: [['EMAIL#someone@example.com'], [`USER#${USER_SUB}`], ['CUSTOMER#cus_1'], ['WEBHOOK#evt_1']]
  },
  WebhookDeliverFunction: {
    check: '15.webhook-deliver',
    uses: {
      // An endpoint, the tenant record (its name and locale for a notice).
      'dynamodb:GetItem': [`TENANT#${TENANT_A}`],
      // A notice SES refused, held.
      'dynamodb:PutItem': [`OUTBOX#${HELD}`],
      // The endpoint's delivery state and its lease.
      'dynamodb:UpdateItem': [`TENANT#${TENANT_A}`],
      // The tenant's admins; the endpoint's queue.
      'dynamodb:Query': [`TENANT#${TENANT_A}`, `ENDPOINT#${ENDPOINT}`],
      // Attempts recorded, delivered events removed from the queue.
      'dynamodb:BatchWriteItem': [`ENDPOINT#${ENDPOINT}`]
    },
    ownForeign: { 'dynamodb:PutItem': ['OUTBOX#'], 'dynamodb:Query': ['ENDPOINT#'], 'dynamodb:BatchWriteItem': ['ENDPOINT#'] },
    moreForeign: [['EMAIL#someone@example.com'], [`USER#${USER_SUB}`], ['CUSTOMER#cus_1'], ['WEBHOOK#evt_1']],
    index: { 'dynamodb:Query': ['WEBHOOKS_FAILING'] }
  },
  ApiClientsFunction: {
    check: '16.api-clients',
    uses: {
      // The caller's authority, one of the tenant's clients.
      'dynamodb:GetItem': [`TENANT#${TENANT_A}`],
      // The tenant's clients.
      'dynamodb:Query': [`TENANT#${TENANT_A}`],
      // A deleted client's tokens revoked in the tenant record.
      'dynamodb:UpdateItem': [`TENANT#${TENANT_A}`],
      // A client recorded (in the tenant's list and by its id), and deleted.
      'dynamodb:PutItem': [`TENANT#${TENANT_A}`, 'APICLIENT#client1'],
      'dynamodb:DeleteItem': [`TENANT#${TENANT_A}`, 'APICLIENT#client1']
    },
    moreForeign: [['EMAIL#someone@example.com'], [`USER#${USER_SUB}`], ['CUSTOMER#cus_1'], ['WEBHOOK#evt_1'], ['APICLIENT#client1']],
    ownForeign: { 'dynamodb:PutItem': ['APICLIENT#'], 'dynamodb:DeleteItem': ['APICLIENT#'] }
  },
  PostConfirmationFunction: {
    check: '10.post-confirmation',
    uses: {
      // Is the user onboarded already (Cognito retries the trigger)?
      'dynamodb:GetItem': [`USER#${USER_SUB}`],
      // One transaction of four conditional puts: tenant record and member entry, membership,
      // e-mail claim; a held welcome.
      'dynamodb:PutItem': [`TENANT#${TENANT_A}`, `USER#${USER_SUB}`, `EMAIL#someone@example.com`, `OUTBOX#${HELD}`]
    },
    ownForeign: { 'dynamodb:PutItem': ['OUTBOX#'] }
  }
}

/** Partition keys in the control table (or anywhere) that neither function may touch. */
export const FOREIGN_CONTROL_KEYS = [
  // A held e-mail (only the functions that send mail keep one, and only billing-sweep sends
  // and forgets it).
  [`OUTBOX#${HELD}`],
  [`MIGRATION#${TENANT_A}`],
  ['MIGRATION#'],
  // An endpoint's queue (only the webhook functions reach it, and not with every action).
  [`ENDPOINT#${ENDPOINT}`],
  [`${TENANT_A}#PRODUCT#0`],
  [`${TENANT_A}#COUNTER`],
  // The delimiter is part of each kind: a kind's name alone, or longer, is another kind.
  ['TENANT'],
  ['TENANTS'],
  [`TENANTX#${TENANT_A}`],
  ['USER'],
  [`USERS#${USER_SUB}`],
  ['EMAIL'],
  // Case and position matter.
  [`tenant#${TENANT_A}`],
  [`user#${USER_SUB}`],
  [`x#USER#${USER_SUB}`],
  [` EMAIL#someone@example.com`],
  [''],
  // A permitted key does not carry a foreign one (ForAllValues: every key must match).
  [`TENANT#${TENANT_A}`, `MIGRATION#${TENANT_A}`],
  [`USER#${USER_SUB}`, `${TENANT_A}#PRODUCT#0`],
  [`MIGRATION#${TENANT_A}`, `EMAIL#someone@example.com`]
]

const DENIED = 'Denied'
const ALLOWED = 'Allowed'

const contextKeyCache = new Map()
async function supportsKey(action, resource, key) {
  const [service, name] = action.split(':')
  const cacheKey = `${action} ${resource}`
  if (!contextKeyCache.has(cacheKey)) {
    contextKeyCache.set(cacheKey, new Set(await allowedContextKeysForRequest(service, name, resource, false, undefined)))
  }
  const known = contextKeyCache.get(cacheKey)
  const lower = key.toLowerCase()
  if (known.has(lower)) return true
  // Keys with a variable part, such as aws:ResourceTag/${TagKey}.
  const slash = lower.indexOf('/')
  return slash > 0 && [...known].some((k) => k.startsWith(lower.slice(0, slash + 1)))
}

/** Checks run against one template, collecting failures instead of throwing. */
class Run {
  constructor() {
    this.failures = []
    this.pending = []
    this.cases = 0
  }

  fail(check, message) {
    this.failures.push({ check, message })
  }

  /** Queues one evaluation; `expected` is 'Allowed' or 'Denied'. */
  expect(check, description, request, expected) {
    this.cases += 1
    this.pending.push(
      evaluate(request).then(
        (result) => {
          const actual = result === 'Allowed' ? ALLOWED : DENIED
          if (actual !== expected) {
            this.fail(check, `${description}: expected ${expected}, the evaluator says ${result}`)
          }
        },
        (error) => this.fail(check, `${description}: could not be evaluated: ${error.message}`)
      )
    )
  }

  async settle() {
    await Promise.all(this.pending)
    this.pending = []
  }
}

/** The request context of a dynamodb call: only keys IAM defines for the action. */
async function dynamoContext(action, resource, { tag, tagKey = 'TenantId', keys, extra = {} }) {
  const context = {}
  // A real request of this action carries only the dynamodb keys IAM defines for it.
  for (const [key, value] of Object.entries(extra)) {
    if (await supportsKey(action, resource, key)) context[key] = value
  }
  if (tag !== undefined) context[`aws:PrincipalTag/${tagKey}`] = tag
  if (keys !== undefined && (await supportsKey(action, resource, 'dynamodb:LeadingKeys'))) {
    context['dynamodb:LeadingKeys'] = keys
  }
  return context
}

function siloPrefixOf(loaded) {
  const jobs = loaded.template.Resources.TenantJobsFunction
  const prefix = jobs?.Properties?.Environment?.Variables?.SILO_TABLE_PREFIX
  return prefix === undefined ? `${DEPLOYMENT.stackName}-tenant-` : loaded.resolver.resolve(prefix)
}

/**
 * Runs every check against the template text. Returns the failures (empty when the template
 * holds), each `{ check, message }` with `check` one of CHECKS' ids.
 */
export async function check(templateText) {
  return (await runChecks(templateText)).failures
}

/** check(), with the number of evaluated requests. */
export async function runChecks(templateText) {
  const run = new Run()
  let loaded
  try {
    loaded = loadPolicies(templateText)
  } catch (error) {
    run.fail('0.template', error.message)
    return { failures: run.failures, cases: run.cases }
  }
  const names = arns()
  const { tenantDataRole, functions, resolver } = loaded
  let pooled, control, siloPrefix
  try {
    pooled = resolver.getAtt('DataTable', 'Arn')
    control = resolver.getAtt('ControlTable', 'Arn')
    siloPrefix = siloPrefixOf(loaded)
  } catch (error) {
    run.fail('0.template', error.message)
    return { failures: run.failures, cases: run.cases }
  }
  // A silo table is created tagged TenantId=<its tenant> (shared/src/tenancy/storage.rs); IAM
  // gives item requests on it aws:ResourceTag/TenantId, the pooled table has no such tag.
  const siloTenants = new Map()
  const silo = (tenant) => {
    const arn = names.table(`${siloPrefix}${tenant}`)
    siloTenants.set(arn, tenant)
    return arn
  }
  const resourceTags = (table) => (siloTenants.has(table) ? { 'aws:ResourceTag/TenantId': siloTenants.get(table) } : {})
  const dataSession = names.session(tenantDataRole.roleName, 'tenant-session')

  // One request of the tenant-data role's session.
  const asTenant = async (check, description, { action, table, tag, tagKey, keys }, expected) => {
    run.expect(
      check,
      `${description} [${action} on ${table.split(':').pop()}]`,
      {
        principal: dataSession,
        action,
        resource: table,
        context: await dynamoContext(action, table, { tag, tagKey, keys, extra: resourceTags(table) }),
        identityPolicies: tenantDataRole.policies
      },
      expected
    )
  }

  const fmt = (keys) => JSON.stringify(keys)

  // ------------------------------------------------------------ 1, 2, 3, 4, 5: item access
  // Every granted item action must carry dynamodb:LeadingKeys, or its checks would be vacuous.
  for (const action of ITEM_ACTIONS) {
    if (!(await supportsKey(action, pooled, 'dynamodb:LeadingKeys'))) {
      run.fail('1.own-tenant', `the evaluator defines no dynamodb:LeadingKeys for ${action}`)
    }
  }
  for (const action of ITEM_ACTIONS) {
    // 1. Own tenant, pooled table and its own silo table; one key and several keys.
    for (const table of [pooled, silo(TENANT_A)]) {
      for (const keys of [
        [`${TENANT_A}#PRODUCT#0`],
        [`${TENANT_A}#PRODUCT#0`, `${TENANT_A}#PRODUCT#3`, `${TENANT_A}#SKU#1`, `${TENANT_A}#ORDER#2`, `${TENANT_A}#COUNTER`]
      ]) {
        await asTenant('1.own-tenant', `tag A, keys ${fmt(keys)}`, { action, table, tag: TENANT_A, keys }, ALLOWED)
      }
    }
    // The short ids of check 3 are themselves reachable, so their denials are meaningful.
    await asTenant('1.own-tenant', 'tag "A", keys ["A#x"]', { action, table: pooled, tag: 'A', keys: ['A#x'] }, ALLOWED)
    await asTenant('1.own-tenant', 'tag "AB", keys ["AB#x"]', { action, table: pooled, tag: 'AB', keys: ['AB#x'] }, ALLOWED)

    // 2. Another tenant's keys, alone or in a mix (BatchGetItem sends all its keys at once).
    for (const table of [pooled, silo(TENANT_A), silo(TENANT_B)]) {
      for (const keys of [
        [`${TENANT_B}#PRODUCT#0`],
        [`${TENANT_A}#PRODUCT#0`, `${TENANT_B}#PRODUCT#0`],
        [`${TENANT_B}#ORDER#1`, `${TENANT_A}#ORDER#1`],
        [`${TENANT_A}#PRODUCT#0`, `${TENANT_A}#SKU#2`, `${TENANT_B}#COUNTER`]
      ]) {
        await asTenant('2.other-tenant', `tag A, keys ${fmt(keys)}`, { action, table, tag: TENANT_A, keys }, DENIED)
      }
    }
    // Another tenant's dedicated table, even with the caller's own keys: a tenant may not store
    // items in (or read them back from) someone else's silo.
    await asTenant('2.other-tenant', `tag A, own keys, on B's silo table`, { action, table: silo(TENANT_B), tag: TENANT_A, keys: [`${TENANT_A}#PRODUCT#0`] }, DENIED)

    // 3. Tenant ids that are prefixes of each other.
    for (const [tag, key] of [
      [TENANT_A, `${TENANT_A}B#PRODUCT#0`],
      [`${TENANT_A}B`, `${TENANT_A}#PRODUCT#0`],
      [TENANT_A.slice(0, -1), `${TENANT_A}#PRODUCT#0`],
      [TENANT_A, `${TENANT_A.slice(0, -1)}#PRODUCT#0`],
      ['A', 'AB#x'],
      ['AB', 'A#x'],
      ['A', 'AA#x']
    ]) {
      for (const table of [pooled, silo(tag)]) {
        await asTenant('3.prefix-ids', `tag ${fmt(tag)}, keys ${fmt([key])}`, { action, table, tag, keys: [key] }, DENIED)
      }
    }

    // 4. Keys that do not start with "<tag>#".
    for (const [tag, key] of [
      [TENANT_A, TENANT_A],
      [TENANT_A, 'PRODUCT#0'],
      [TENANT_A, `x${TENANT_A}#`],
      [TENANT_A, `#${TENANT_A}#PRODUCT#0`],
      [TENANT_A, `${TENANT_A.toLowerCase()}#PRODUCT#0`],
      [TENANT_A, ''],
      ['A', 'A'],
      ['A', 'PRODUCT#0'],
      ['A', 'xA#'],
      ['A', 'a#x']
    ]) {
      await asTenant('4.unprefixed-keys', `tag ${fmt(tag)}, keys ${fmt([key])}`, { action, table: pooled, tag, keys: [key] }, DENIED)
      await asTenant('4.unprefixed-keys', `tag ${fmt(tag)}, keys [${fmt(`${tag}#x`)}, ${fmt(key)}]`, { action, table: pooled, tag, keys: [`${tag}#x`, key] }, DENIED)
    }

    // 5. Sessions without the TenantId tag (or with it under another name, or empty).
    for (const table of [pooled, silo(TENANT_A)]) {
      await asTenant('5.untagged-session', `no tag, keys ${fmt([`${TENANT_A}#PRODUCT#0`])}`, { action, table, keys: [`${TENANT_A}#PRODUCT#0`] }, DENIED)
      await asTenant('5.untagged-session', 'no tag, keys ["#PRODUCT#0"]', { action, table, keys: ['#PRODUCT#0'] }, DENIED)
      await asTenant('5.untagged-session', 'tag Tenant=A (not TenantId)', { action, table, tag: TENANT_A, tagKey: 'Tenant', keys: [`${TENANT_A}#PRODUCT#0`] }, DENIED)
    }
  }

  // ------------------------------------------------------------ 6: nothing else is granted
  for (const action of NOT_GRANTED_ACTIONS) {
    for (const table of [pooled, silo(TENANT_A)]) {
      await asTenant('6.not-granted', `own tenant, keys ${fmt([`${TENANT_A}#PRODUCT#0`])}`, { action, table, tag: TENANT_A, keys: [`${TENANT_A}#PRODUCT#0`] }, DENIED)
    }
  }
  const otherResources = [
    ['the control table', control, `TENANT#${TENANT_A}`],
    ['the control table', control, `${TENANT_A}#PRODUCT#0`],
    ["the data table's index", `${pooled}/index/gsi1`, `${TENANT_A}#PRODUCT#0`],
    ["another stack's table", names.table('othertenantry-data'), `${TENANT_A}#PRODUCT#0`]
  ]
  for (const action of [...ITEM_ACTIONS, 'dynamodb:Scan']) {
    for (const [what, resource, key] of otherResources) {
      if (resource.includes('/index/') && !['dynamodb:Query', 'dynamodb:Scan'].includes(action)) continue
      await asTenant('6.not-granted', `${what}, own tenant, keys ${fmt([key])}`, { action, table: resource, tag: TENANT_A, keys: [key] }, DENIED)
    }
  }

  // ------------------------------------------------------------ 7: the trust policy
  const trust = tenantDataRole.trustPolicy
  const dataApis = DATA_API_FUNCTIONS.map((id) => [id, functions[id]])
  for (const [id, fn] of dataApis) {
    if (!fn) run.fail('7.trust', `${id} is not an AWS::Serverless::Function in the template`)
    else if (fn.unsupported) run.fail('7.trust', fn.unsupported)
  }
  // Structure: every Allow names only the three roles, by ARN; nothing else admits anyone.
  const allowedPrincipals = new Set()
  for (const statement of [trust?.Statement ?? []].flat()) {
    if (statement.NotPrincipal !== undefined) run.fail('7.trust', `statement ${statement.Sid ?? ''} uses NotPrincipal`)
    if (statement.Effect !== 'Allow') continue
    const principal = statement.Principal
    if (principal === '*' || typeof principal !== 'object' || Object.keys(principal).some((k) => k !== 'AWS')) {
      run.fail('7.trust', `statement ${statement.Sid ?? ''} admits ${JSON.stringify(principal)}: only role ARNs (AWS) expected`)
      continue
    }
    for (const arn of [principal.AWS].flat()) allowedPrincipals.add(arn)
  }
  const expectedPrincipals = new Set(dataApis.filter(([, fn]) => fn).map(([, fn]) => fn.roleArn))
  const extra = [...allowedPrincipals].filter((p) => !expectedPrincipals.has(p))
  const missing = [...expectedPrincipals].filter((p) => !allowedPrincipals.has(p))
  if (extra.length) run.fail('7.trust', `the trust policy also admits ${JSON.stringify(extra)}`)
  if (missing.length) run.fail('7.trust', `the trust policy does not name ${JSON.stringify(missing)}`)

  const tagged = (value, more = {}) => ({
    'aws:RequestTag/TenantId': value,
    'aws:TagKeys': ['TenantId', ...Object.keys(more)],
    ...Object.fromEntries(Object.entries(more).map(([k, v]) => [`aws:RequestTag/${k}`, v]))
  })
  const assume = (check, description, principal, action, context, identityPolicies, expected) =>
    run.expect(
      check,
      `${description} [${action} on ${tenantDataRole.roleName}]`,
      { principal, action, resource: tenantDataRole.arn, context, identityPolicies, resourcePolicy: trust },
      expected
    )
  for (const [id, fn] of dataApis) {
    if (!fn || fn.unsupported) continue
    for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
      // With the function's own policies (from the template): the whole path works.
      assume('7.trust', `${id}'s role, TenantId=A`, fn.sessionArn, action, tagged(TENANT_A), fn.policies, ALLOWED)
      assume('7.trust', `${id}'s role, no tag`, fn.sessionArn, action, {}, fn.policies, DENIED)
      assume('7.trust', `${id}'s role, TenantId="" (empty)`, fn.sessionArn, action, tagged(''), fn.policies, DENIED)
      assume('7.trust', `${id}'s role, TenantId=A and Other=x`, fn.sessionArn, action, tagged(TENANT_A, { Other: 'x' }), fn.policies, DENIED)
      assume('7.trust', `${id}'s role, tag Other=x only`, fn.sessionArn, action,
        { 'aws:RequestTag/Other': 'x', 'aws:TagKeys': ['Other'] }, fn.policies, DENIED)
    }
  }
  // Anyone else, even with an identity policy allowing every sts action on every role.
  const stsAll = [{ name: 'sts-all', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] } }]
  const others = [
    ...Object.entries(functions)
      .filter(([id]) => !DATA_API_FUNCTIONS.includes(id))
      .map(([id, fn]) => [`${id}'s role`, fn.sessionArn ?? names.session(names.samRoleName(id), id)]),
    ['the tenant-data role itself (role chaining)', dataSession],
    ['the account root', names.accountRoot],
    ['another role of the account', names.session('tenantry-operator', 'someone')],
    ['a same-named role in another account', `arn:aws:sts::210987654321:assumed-role/${functions.ProductsApiFunction?.roleName ?? 'x'}/tenantry-products-api`]
  ]
  for (const [what, principal] of others) {
    for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
      assume('7.trust', `${what}, TenantId=A`, principal, action, tagged(TENANT_A),
        principal === names.accountRoot ? [] : stsAll, DENIED)
    }
  }

  // ------------------------------------------------------------ 8: the data APIs' own roles
  // Their identity policies alone (no resource policy on the tables): no tenant data at all.
  for (const [id, fn] of dataApis) {
    if (!fn || fn.unsupported) {
      run.fail('8.execution-roles', fn ? fn.unsupported : `${id} not found`)
      continue
    }
    const own = async (description, action, resource, { keys, extra } = {}, expected) => {
      run.expect(
        '8.execution-roles',
        `${id}: ${description} [${action} on ${resource.split(':').pop()}]`,
        {
          principal: fn.sessionArn,
          action,
          resource,
          context: await dynamoContext(action, resource, { keys, extra: { ...resourceTags(resource), ...extra } }),
          identityPolicies: fn.policies
        },
        expected
      )
    }
    for (const action of [...ITEM_ACTIONS, 'dynamodb:Scan', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLSelect']) {
      for (const table of [pooled, silo(TENANT_A)]) {
        await own(`keys ${fmt([`${TENANT_A}#PRODUCT#0`])}`, action, table, { keys: [`${TENANT_A}#PRODUCT#0`] }, DENIED)
        await own('keys ["TENANT#A"], attributes [pk, sk, status, data_table]', action, table,
          { keys: [`TENANT#${TENANT_A}`], extra: (await supportsKey(action, table, 'dynamodb:Attributes')) ? { 'dynamodb:Attributes': ['pk', 'sk', 'status', 'data_table'] } : {} }, DENIED)
      }
    }

    // The tenant's location: GetItem of TENANT#<id>, projected to status, data_table, tier and
    // revoked (what the data APIs check each token against).
    const tenantKey = `TENANT#${TENANT_A}`
    const location = (attributes, select) => ({
      keys: [tenantKey],
      extra: { 'dynamodb:Attributes': attributes, ...(select ? { 'dynamodb:Select': select } : {}) }
    })
    await own('tenant location, attributes [pk, sk, status, data_table]', 'dynamodb:GetItem', control,
      location(['pk', 'sk', 'status', 'data_table'], 'SPECIFIC_ATTRIBUTES'), ALLOWED)
    // What DynamoControl::tenant_location sends: ProjectionExpression "#status, data_table,
    // tier, #revoked, require_mfa, plan_lowered, user_count".
    const projected = ['status', 'data_table', 'tier', 'revoked', 'require_mfa', 'plan_lowered', 'user_count']
    await own(`tenant location, projection [${projected.join(', ')}]`, 'dynamodb:GetItem', control,
      location(projected, 'SPECIFIC_ATTRIBUTES'), ALLOWED)
    await own(`tenant location, projection [${projected.join(', ')}], no Select`, 'dynamodb:GetItem', control,
      location(projected), ALLOWED)
    if (id !== 'TenantsApiFunction') {
      // tenants-api holds a wider grant (ManageTenantRecord below): these hold for the others.
      await own('tenant record with another attribute (name)', 'dynamodb:GetItem', control,
        location(['pk', 'sk', 'status', 'data_table', 'name'], 'SPECIFIC_ATTRIBUTES'), DENIED)
      // A GetItem without a projection reads every attribute: Select is ALL_ATTRIBUTES.
      await own('tenant record without a projection (Select ALL_ATTRIBUTES)', 'dynamodb:GetItem', control,
        { keys: [tenantKey], extra: { 'dynamodb:Select': 'ALL_ATTRIBUTES' } }, DENIED)
      for (const key of [`USER#${TENANT_B}`, 'EMAIL#someone@example.com', `MIGRATION#${TENANT_A}`, `${TENANT_A}#PRODUCT#0`]) {
        await own(`control item ${key}`, 'dynamodb:GetItem', control,
          { keys: [key], extra: { 'dynamodb:Attributes': ['pk', 'sk', 'status', 'data_table'], 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } }, DENIED)
      }
      await own('tenant record and a membership in one request', 'dynamodb:GetItem', control,
        { keys: [tenantKey, `USER#${TENANT_B}`], extra: { 'dynamodb:Attributes': ['pk', 'sk', 'status'], 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } }, DENIED)
      for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Scan', 'dynamodb:BatchWriteItem']) {
        await own('tenant record', action, control, location(['pk', 'sk', 'status', 'data_table'], null), DENIED)
      }
    } else {
      // tenants-api: tenant records, read and updated (ManageTenantRecord); nothing keyed by user.
      for (const action of ['dynamodb:GetItem', 'dynamodb:UpdateItem']) {
        await own('its tenant record', action, control, { keys: [tenantKey] }, ALLOWED)
      }
      for (const action of ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Scan', 'dynamodb:PartiQLSelect']) {
        await own('its tenant record', action, control, { keys: [tenantKey] }, DENIED)
      }
      for (const key of [`USER#${TENANT_B}`, 'EMAIL#someone@example.com', `MIGRATION#${TENANT_A}`]) {
        for (const action of ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem']) {
          await own(`control item ${key}`, action, control, { keys: [key] }, DENIED)
        }
      }
    }
    await own('the control index', 'dynamodb:Query', `${control}/index/gsi1`, { keys: ['TENANTS'] }, DENIED)

    // STS: only the tenant-data role. A trust policy that trusts the whole account makes the
    // function's identity policy the deciding one.
    const trustsAccount = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: names.accountRoot }, Action: ['sts:AssumeRole', 'sts:TagSession'] }] }
    const otherRoles = [
      names.role('tenantry-operator'),
      names.role(names.samRoleName('TenantJobsFunction')),
      names.role(names.samRoleName('UsersApiFunction')),
      names.role(`${tenantDataRole.roleName}-2`)
    ]
    for (const [role, expected] of [[tenantDataRole.arn, ALLOWED], ...otherRoles.map((r) => [r, DENIED])]) {
      for (const action of ['sts:AssumeRole', 'sts:TagSession']) {
        run.expect('8.execution-roles', `${id}: ${action} on ${role.split(':').pop()} (account-trusting role)`,
          { principal: fn.sessionArn, action, resource: role, context: tagged(TENANT_A), identityPolicies: fn.policies, resourcePolicy: trustsAccount },
          expected)
      }
    }
  }

  // ------------------------------------------------------------ 9, 10: users-api, post-confirmation
  // Their own roles on the control table, by the kinds of item they write (CONTROL_ROLES).
  const controlIndex = `${control}/index/gsi1`
  const otherStacksControl = names.table('othertenantry-control')
  for (const [id, { check: checkId, uses, ownForeign = {}, moreForeign = [], index = {} }] of Object.entries(CONTROL_ROLES)) {
    const fn = functions[id]
    if (!fn || fn.unsupported) {
      run.fail(checkId, fn ? fn.unsupported : `${id} is not an AWS::Serverless::Function in the template`)
      continue
    }
    const own = async (description, action, resource, keys, expected) => {
      run.expect(
        checkId,
        `${id}: ${description} [${action} on ${resource.split(':').pop()}]`,
        {
          principal: fn.sessionArn,
          action,
          resource,
          context: await dynamoContext(action, resource, { keys, extra: resourceTags(resource) }),
          identityPolicies: fn.policies
        },
        expected
      )
    }
    for (const [action, keys] of Object.entries(uses)) {
      // Without the key the condition would be vacuous (ForAllValues of nothing is true).
      if (!(await supportsKey(action, control, 'dynamodb:LeadingKeys'))) {
        run.fail(checkId, `the evaluator defines no dynamodb:LeadingKeys for ${action}`)
      }
      // Allowed: each key kind the code uses with this action (the controls of what follows).
      for (const key of keys) {
        await own(`keys ${fmt([key])}`, action, control, [key], ALLOWED)
      }
      // Denied, with the same action: every other kind of key, alone or mixed in (but a kind
      // this role may use with this action).
      const ownPrefixes = ownForeign[action] ?? []
      const isOwn = (keys) => keys.every((key) => ownPrefixes.some((prefix) => key.startsWith(prefix)))
      for (const foreign of [...FOREIGN_CONTROL_KEYS, ...moreForeign].filter((keys) => !isOwn(keys))) {
        await own(`keys ${fmt(foreign)}`, action, control, foreign, DENIED)
      }
      // Denied, with the same action and an allowed key: any other table or index.
      const resources = [
        ['the pooled data table', pooled],
        ["a tenant's silo table", silo(TENANT_A)],
        ["another stack's control table", otherStacksControl],
        ...(action === 'dynamodb:Query' && !(action in index) ? [['the control index', controlIndex]] : [])
      ]
      for (const [what, resource] of resources) {
        await own(`${what}, keys ${fmt([keys[0]])}`, action, resource, [keys[0]], DENIED)
      }
      // The tenant data keys in the data tables (what the tenant-data role is for).
      for (const table of [pooled, silo(TENANT_A)]) {
        await own(`tenant data, keys ${fmt([`${TENANT_A}#PRODUCT#0`])}`, action, table, [`${TENANT_A}#PRODUCT#0`], DENIED)
      }
    }
    // The index: its own partitions allowed, every other one (alone or mixed in) denied.
    for (const [action, keys] of Object.entries(index)) {
      for (const key of keys) {
        await own(`index keys ${fmt([key])}`, action, controlIndex, [key], ALLOWED)
      }
      for (const foreign of [['TENANTS'], [keys[0], 'TENANTS'], [`TENANT#${TENANT_A}`], ['BILLING_OTHER']]) {
        await own(`index keys ${fmt(foreign)}`, action, controlIndex, foreign, DENIED)
      }
    }
    // Every other dynamodb action, even on a key kind it may use: Scan (it names no partition
    // key, so the LeadingKeys condition would let it through: only its absence protects),
    // batch and PartiQL actions, table actions, and whichever item actions the code never uses.
    const allowedKey = Object.values(uses)[0][0]
    const others = [...ITEM_ACTIONS, ...NOT_GRANTED_ACTIONS].filter((action) => !(action in uses))
    for (const action of others) {
      for (const resource of [control, ...(['dynamodb:Query', 'dynamodb:Scan'].includes(action) ? [controlIndex] : [])]) {
        await own(`not granted, keys ${fmt([allowedKey])}`, action, resource, [allowedKey], DENIED)
      }
    }
  }

  // ------------------------------------------------------------ 16: api-clients' app clients
  // It creates (with no user sign-in flow: functions/api-clients) and deletes the user pool's app
  // clients, and nothing else: never changing one (which could turn a sign-in flow on, or make
  // it say whether an address has an account), nor signing anyone in, nor reading users.
  const apiClients = functions.ApiClientsFunction
  if (!apiClients || apiClients.unsupported) {
    run.fail('16.api-clients', apiClients ? apiClients.unsupported : 'ApiClientsFunction is not an AWS::Serverless::Function in the template')
  } else {
    let pool
    try {
      pool = resolver.getAtt('UserPool', 'Arn')
    } catch (error) {
      run.fail('16.api-clients', error.message)
    }
    if (pool) {
      const otherPool = pool.replace(/userpool\/.*$/, 'userpool/us-east-1_OtherPool')
      const cognito = (action, resource, expected) =>
        run.expect(
          '16.api-clients',
          `ApiClientsFunction: ${action} on ${resource.split(':').pop()}`,
          { principal: apiClients.sessionArn, action, resource, context: {}, identityPolicies: apiClients.policies },
          expected
        )
      for (const action of ['cognito-idp:CreateUserPoolClient', 'cognito-idp:DeleteUserPoolClient']) {
        cognito(action, pool, ALLOWED)
        cognito(action, otherPool, DENIED)
      }
      for (const action of [
        'cognito-idp:UpdateUserPoolClient',
        'cognito-idp:AdminInitiateAuth',
        'cognito-idp:AdminRespondToAuthChallenge',
        'cognito-idp:AdminCreateUser',
        'cognito-idp:AdminGetUser',
        'cognito-idp:AdminSetUserPassword',
        'cognito-idp:ListUsers',
        'cognito-idp:UpdateResourceServer',
        'cognito-idp:UpdateUserPool'
      ]) {
        cognito(action, pool, DENIED)
      }
    }
  }

  // ------------------------------------------------------------ 17: tenant-jobs
  // It lifts a silo table's deletion protection before deleting it, and turns on its backups:
  // table changes on the stack's silo tables and on nothing else. It reads the payment
  // provider's key (offboarding cancels the subscription) and no other parameter, and invokes
  // itself (the next job of a tenant) and no other function.
  const jobs = functions.TenantJobsFunction
  if (!jobs || jobs.unsupported) {
    run.fail('17.tenant-jobs', jobs ? jobs.unsupported : 'TenantJobsFunction is not an AWS::Serverless::Function in the template')
  } else {
    const expectJobs = async (description, action, resource, expected) => {
      const context = action.startsWith('dynamodb:')
        ? await dynamoContext(action, resource, { extra: resourceTags(resource) })
        : {}
      run.expect(
        '17.tenant-jobs',
        `tenant-jobs: ${description} [${action} on ${resource.split(':').pop()}]`,
        { principal: jobs.sessionArn, action, resource, context, identityPolicies: jobs.policies },
        expected
      )
    }
    for (const action of ['dynamodb:UpdateTable', 'dynamodb:DeleteTable', 'dynamodb:UpdateContinuousBackups']) {
      await expectJobs("a tenant's silo table", action, silo(TENANT_A), ALLOWED)
      for (const [what, table] of [
        ['the pooled data table', pooled],
        ['the control table', control],
        ["another stack's silo table", names.table(`othertenantry-tenant-${TENANT_A}`)]
      ]) {
        await expectJobs(what, action, table, DENIED)
      }
    }
    const { partition, region, accountId, stackName } = DEPLOYMENT
    const parameter = (name) => `arn:${partition}:ssm:${region}:${accountId}:parameter${name}`
    const defaults = (name) => loaded.template.Parameters?.[name]?.Default
    await expectJobs('the payment key', 'ssm:GetParameter', parameter(defaults('StripeApiKeyParameter')), ALLOWED)
    for (const other of [defaults('StripeWebhookSecretsParameter'), '/tenantry/other']) {
      await expectJobs(`the parameter ${other}`, 'ssm:GetParameter', parameter(other), DENIED)
    }
    const lambda = (name) => `arn:${partition}:lambda:${region}:${accountId}:function:${name}`
    await expectJobs('itself', 'lambda:InvokeFunction', lambda(`${stackName}-tenant-jobs:live`), ALLOWED)
    for (const other of [`${stackName}-billing-api:live`, `${stackName}-tenant-jobs-other:live`, `othertenantry-tenant-jobs:live`]) {
      await expectJobs(`the function ${other}`, 'lambda:InvokeFunction', lambda(other), DENIED)
    }
  }

  await run.settle()
  return { failures: run.failures, cases: run.cases }
}
