// Mutation tests: the checks would catch a loosened policy. Each test takes a copy of the text of
// template.yaml, loosens one thing, runs the same check() as the main test, and expects a
// specific check to fail. A mutation that no longer applies (the template was reformatted) fails
// loudly instead of passing silently: adjust the pattern here when that happens.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { check } from './lib/checks.mjs'
import { readTemplateText } from './lib/template.mjs'

const LEADING_KEYS = '["${aws:PrincipalTag/TenantId}#*"]'
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Replaces `pattern` (a string or a regex without the g flag) in `text`: with `{ first: true }`
 * only its first occurrence, with `{ all: true }` every occurrence (the tenant-data role repeats
 * its condition for the pooled and the silo statement), otherwise it must occur exactly once.
 */
function mutate(text, pattern, replacement, { first = false, all: every = false } = {}) {
  const source = typeof pattern === 'string' ? esc(pattern) : pattern.source
  const all = text.match(new RegExp(source, 'g')) ?? []
  assert.ok(all.length > 0, `mutation does not apply: ${pattern} not found in template.yaml`)
  if (!first && !every) assert.equal(all.length, 1, `mutation is ambiguous: ${pattern} occurs ${all.length} times`)
  const out = text.replace(new RegExp(source, every ? 'g' : ''), replacement)
  assert.notEqual(out, text)
  return out
}

const MUTATIONS = [
  {
    name: 'api-clients may also change app clients (UpdateUserPoolClient could turn a sign-in flow on)',
    apply: (t) =>
      mutate(
        t,
        'Action: [cognito-idp:CreateUserPoolClient, cognito-idp:DeleteUserPoolClient]',
        'Action: [cognito-idp:CreateUserPoolClient, cognito-idp:DeleteUserPoolClient, cognito-idp:UpdateUserPoolClient]'
      ),
    expect: ['16.api-clients']
  },
  {
    name: "api-clients' app-client grant on every user pool (Resource \"*\")",
    apply: (t) =>
      mutate(
        t,
        /(Action: \[cognito-idp:CreateUserPoolClient, cognito-idp:DeleteUserPoolClient\]\n *)Resource: !GetAtt UserPool\.Arn/,
        '$1Resource: "*"'
      ),
    expect: ['16.api-clients']
  },
  {
    name: "tenant-jobs may change any table (its silo-table statement on every resource)",
    apply: (t) =>
      mutate(
        t,
        /(- dynamodb:UpdateContinuousBackups\n *)Resource: !Sub "arn:\$\{AWS::Partition\}:dynamodb:\$\{AWS::Region\}:\$\{AWS::AccountId\}:table\/\$\{AWS::StackName\}-tenant-\*"/,
        '$1Resource: "*"'
      ),
    expect: ['17.tenant-jobs']
  },
  {
    name: 'tenant-jobs may read every parameter',
    apply: (t) =>
      mutate(
        t,
        /(- Sid: ReadPaymentKey\n *Effect: Allow\n *Action: ssm:GetParameter\n *)Resource: [^\n]*/,
        '$1Resource: "*"'
      ),
    expect: ['17.tenant-jobs']
  },
  {
    name: 'tenant-jobs may invoke any function of the stack',
    apply: (t) =>
      mutate(
        t,
        /(- Sid: ContinueLongJobs\n *Effect: Allow\n *Action: lambda:InvokeFunction\n *Resource: [^\n]*)-tenant-jobs:live"/,
        '$1-*"'
      ),
    expect: ['17.tenant-jobs']
  },
  {
    name: 'LeadingKeys "${tag}#*" loosened to "${tag}*" (no delimiter)',
    apply: (t) => mutate(t, LEADING_KEYS, '["${aws:PrincipalTag/TenantId}*"]', { all: true }),
    expect: ['3.prefix-ids', '4.unprefixed-keys']
  },
  {
    name: "the tenant-data role's Condition removed",
    apply: (t) =>
      mutate(
        t,
        new RegExp(`\\n( *)Condition:\\n\\1  ForAllValues:StringLike:\\n\\1    dynamodb:LeadingKeys: ${esc(LEADING_KEYS)}\\n\\1  "Null":\\n\\1    aws:PrincipalTag/TenantId: "false"\\n`),
        '\n',
        { all: true }
      ),
    expect: ['2.other-tenant', '3.prefix-ids', '4.unprefixed-keys', '5.untagged-session']
  },
  {
    name: 'ForAllValues: changed to ForAnyValue: (a mix of A and B keys passes)',
    apply: (t) =>
      mutate(t, new RegExp(`ForAllValues:StringLike:(\\n *dynamodb:LeadingKeys: ${esc(LEADING_KEYS)})`), 'ForAnyValue:StringLike:$1', { all: true }),
    expect: ['2.other-tenant']
  },
  {
    name: 'StringLike changed to StringEquals (the wildcard becomes literal: own tenant denied)',
    apply: (t) =>
      mutate(t, new RegExp(`ForAllValues:StringLike:(\\n *dynamodb:LeadingKeys: ${esc(LEADING_KEYS)})`), 'ForAllValues:StringEquals:$1', { all: true }),
    expect: ['1.own-tenant']
  },
  {
    name: 'the policy variable written inside !Sub (CloudFormation cannot resolve it)',
    apply: (t) => mutate(t, `dynamodb:LeadingKeys: ${LEADING_KEYS}`, 'dynamodb:LeadingKeys: [!Sub "${aws:PrincipalTag/TenantId}#*"]', { first: true }),
    expect: ['0.template']
  },
  {
    name: 'dynamodb:Scan granted to the tenant-data role',
    apply: (t) => mutate(t, /\n( *)- dynamodb:ConditionCheckItem\n/, '\n$1- dynamodb:ConditionCheckItem\n$1- dynamodb:Scan\n', { first: true }),
    expect: ['6.not-granted']
  },
  {
    name: 'BatchWriteItem and DeleteTable granted to the tenant-data role',
    apply: (t) =>
      mutate(t, /\n( *)- dynamodb:ConditionCheckItem\n/, '\n$1- dynamodb:ConditionCheckItem\n$1- dynamodb:BatchWriteItem\n$1- dynamodb:DeleteTable\n', { first: true }),
    expect: ['6.not-granted']
  },
  {
    name: 'the tenant-data role on every table (Resource "*")',
    apply: (t) =>
      mutate(t, /\n( *)Resource: !GetAtt DataTable\.Arn\n(\1Condition:\n\1  ForAllValues:StringLike:)/, '\n$1Resource: "*"\n$2'),
    expect: ['6.not-granted']
  },
  {
    name: "the silo statement on every tenant's table (the tag no longer in the table name)",
    apply: (t) => mutate(t, ':table/${AWS::StackName}-tenant-${!aws:PrincipalTag/TenantId}"', ':table/${AWS::StackName}-tenant-*"'),
    expect: ['2.other-tenant']
  },
  {
    name: 'the trust policy no longer limits the tag keys',
    apply: (t) => mutate(t, /\n *ForAllValues:StringEquals:\n *aws:TagKeys: \[TenantId\]/, ''),
    expect: ['7.trust']
  },
  {
    name: 'the trust policy accepts an empty TenantId ("*" instead of 26 "?")',
    apply: (t) => mutate(t, 'aws:RequestTag/TenantId: "??????????????????????????"', 'aws:RequestTag/TenantId: "*"'),
    expect: ['7.trust']
  },
  {
    name: 'the trust policy without any Condition',
    apply: (t) =>
      mutate(t, /\n( *)Condition:\n\1  # A tenant id[^\n]*\n\1  StringLike:\n\1    aws:RequestTag\/TenantId: "\?{26}"\n\1  ForAllValues:StringEquals:\n\1    aws:TagKeys: \[TenantId\]/, ''),
    expect: ['7.trust']
  },
  {
    name: 'the trust policy also admits the users-api role',
    apply: (t) => mutate(t, /\n( *)- !GetAtt TenantsApiFunctionRole\.Arn\n/, '\n$1- !GetAtt TenantsApiFunctionRole.Arn\n$1- !GetAtt UsersApiFunctionRole.Arn\n'),
    expect: ['7.trust']
  },
  {
    name: 'the trust policy admits the whole account (root)',
    apply: (t) =>
      mutate(t, /( *)- !GetAtt ProductsApiFunctionRole\.Arn\n\1- !GetAtt OrdersApiFunctionRole\.Arn\n\1- !GetAtt TenantsApiFunctionRole\.Arn\n/, '$1- !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"\n'),
    expect: ['7.trust']
  },
  {
    name: "products-api's role gets item access to the data table",
    apply: (t) =>
      mutate(
        t,
        /\n( *)- Sid: AssumeTenantScopedRole\n/,
        '\n$1- Sid: Oops\n$1  Effect: Allow\n$1  Action: [dynamodb:GetItem, dynamodb:Query]\n$1  Resource: !GetAtt DataTable.Arn\n$1- Sid: AssumeTenantScopedRole\n',
        { first: true }
      ),
    expect: ['8.execution-roles']
  },
  {
    name: "products-api's control-table read no longer limited to TENANT# keys",
    apply: (t) => mutate(t, 'dynamodb:LeadingKeys: ["TENANT#*"]', 'dynamodb:LeadingKeys: ["*"]', { first: true }),
    expect: ['8.execution-roles']
  },
  {
    name: "products-api's control-table read without the Select condition (whole items)",
    apply: (t) => mutate(t, /\n *StringEqualsIfExists:\n *dynamodb:Select: SPECIFIC_ATTRIBUTES/, '', { first: true }),
    expect: ['8.execution-roles']
  },
  {
    name: "products-api's control-table read of any attribute",
    apply: (t) => mutate(t, 'dynamodb:Attributes: [pk, sk, status, data_table, tier, revoked, require_mfa, plan_lowered, user_count]', 'dynamodb:Attributes: [pk, sk, status, data_table, tier, revoked, require_mfa, plan_lowered, user_count, name]', { first: true }),
    expect: ['8.execution-roles']
  },
  {
    name: 'products-api may assume any role',
    apply: (t) =>
      mutate(t, 'Resource: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-tenant-data"', 'Resource: "*"', { first: true }),
    expect: ['8.execution-roles']
  },
  // users-api and post-confirmation: their control-table statements, found by Sid.
  ...[
    ['ManageMembers', "users-api's", '9.users-api'],
    ['OnboardTenant', "post-confirmation's", '10.post-confirmation']
  ].flatMap(([sid, whose, expect]) => {
    // The statement's LeadingKeys line ($1: everything before it; $2: its indentation).
    const leadingKeys = (list) =>
      new RegExp(`(\\n *- Sid: ${sid}\\n(?: .*\\n)*?)( *)dynamodb:LeadingKeys: ${esc(list)}\\n`)
    const KINDS = '["TENANT#*", "USER#*", "EMAIL#*"]'
    const widen = (list) => (t) => mutate(t, leadingKeys(KINDS), `$1$2dynamodb:LeadingKeys: ${list}\n`)
    return [
      { name: `${whose} control-table keys widened to ["*"]`, apply: widen('["*"]'), expect: [expect] },
      {
        name: `${whose} control-table keys also MIGRATION#*`,
        apply: widen('["TENANT#*", "USER#*", "EMAIL#*", "MIGRATION#*"]'),
        expect: [expect]
      },
      {
        name: `${whose} control-table keys without the delimiter ("TENANT*")`,
        apply: widen('["TENANT*", "USER#*", "EMAIL#*"]'),
        expect: [expect]
      },
      {
        name: `${whose} control-table condition removed`,
        apply: (t) =>
          mutate(
            t,
            new RegExp(`(\\n *- Sid: ${sid}\\n(?: .*\\n)*?)( *)Condition:\\n\\2 {2}ForAllValues:StringLike:\\n\\2 {4}dynamodb:LeadingKeys: ${esc(KINDS)}\\n`),
            '$1'
          ),
        expect: [expect]
      },
      {
        name: `${whose} control-table condition ForAllValues: changed to ForAnyValue:`,
        apply: (t) =>
          mutate(
            t,
            new RegExp(`(\\n *- Sid: ${sid}\\n(?: .*\\n)*?)( *)ForAllValues:StringLike:\\n`),
            '$1$2ForAnyValue:StringLike:\n'
          ),
        expect: [expect]
      },
      {
        name: `${whose} control-table statement on every table (Resource "*")`,
        apply: (t) =>
          mutate(t, new RegExp(`(\\n *- Sid: ${sid}\\n(?: .*\\n)*?)( *)Resource: !GetAtt ControlTable\\.Arn\\n`), '$1$2Resource: "*"\n'),
        expect: [expect]
      },
      {
        name: `${whose} control-table statement also grants Scan`,
        apply: (t) =>
          mutate(t, new RegExp(`(\\n *- Sid: ${sid}\\n(?: .*\\n)*?)( *)Action: \\[dynamodb:GetItem, `), '$1$2Action: [dynamodb:Scan, dynamodb:GetItem, '),
        expect: [expect]
      }
    ]
  }),
  {
    name: "users-api's control-table statement grants ConditionCheckItem again (the code never sends one)",
    apply: (t) =>
      mutate(t, /(\n *- Sid: ManageMembers\n(?: .*\n)*?)( *)Action: \[dynamodb:GetItem, /, '$1$2Action: [dynamodb:ConditionCheckItem, dynamodb:GetItem, '),
    expect: ['9.users-api']
  },
  {
    name: "post-confirmation's control-table statement also grants UpdateItem and DeleteItem",
    apply: (t) =>
      mutate(
        t,
        /(\n *- Sid: OnboardTenant\n(?: .*\n)*?)( *)Action: \[dynamodb:GetItem, dynamodb:PutItem\]/,
        '$1$2Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]'
      ),
    expect: ['10.post-confirmation']
  },
  // The other way: a grant narrower than the code needs fails the allowed controls, which is
  // what makes the denials next to them meaningful.
  {
    name: "users-api's control-table keys without EMAIL#* (invitations could not claim an address)",
    apply: (t) =>
      mutate(t, /(\n *- Sid: ManageMembers\n(?: .*\n)*?)( *)dynamodb:LeadingKeys: \["TENANT#\*", "USER#\*", "EMAIL#\*"\]\n/, '$1$2dynamodb:LeadingKeys: ["TENANT#*", "USER#*"]\n'),
    expect: ['9.users-api']
  },
  {
    name: "post-confirmation's control-table statement without GetItem (a retry could not find the membership)",
    apply: (t) => mutate(t, /(\n *- Sid: OnboardTenant\n(?: .*\n)*?)( *)Action: \[dynamodb:GetItem, dynamodb:PutItem\]/, '$1$2Action: [dynamodb:PutItem]'),
    expect: ['10.post-confirmation']
  },
  {
    name: 'products-api given a SAM policy template (its statements are not in the template)',
    apply: (t) =>
      mutate(t, /\n( *)Policies:\n\1  - Version: "2012-10-17"\n/, '\n$1Policies:\n$1  - DynamoDBReadPolicy:\n$1      TableName: !Ref DataTable\n$1  - Version: "2012-10-17"\n', { first: true }),
    expect: ['8.execution-roles']
  }
]

describe('mutations of template.yaml are caught by check()', () => {
  let original
  before(() => {
    original = readTemplateText()
  })

  for (const { name, apply, expect } of MUTATIONS) {
    test(name, async () => {
      const mutated = apply(original)
      const failures = await check(mutated)
      const failed = new Set(failures.map((f) => f.check))
      for (const id of expect) {
        assert.ok(
          failed.has(id),
          `expected check ${id} to fail; failures: ${JSON.stringify(failures.slice(0, 5), null, 1)}`
        )
      }
    })
  }
})
