// The main test: every IAM check of template.yaml holds (see lib/checks.mjs for the checks and
// lib/template.mjs for how the policies are read out of the template).
//
// No local server enforces IAM conditions (moto ignores them), so this is the only place where
// the second wall of tenant isolation, `dynamodb:LeadingKeys` on the tenant-data role, is proved.

import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { CHECKS, runChecks } from './lib/checks.mjs'
import { readTemplateText } from './lib/template.mjs'

describe('template.yaml IAM policies', () => {
  let outcome
  before(async () => {
    outcome = await runChecks(readTemplateText())
  })

  test('check(template.yaml) reports no failure', () => {
    assert.deepEqual(outcome.failures, [])
  })

  test('the checks are not vacuous: hundreds of requests were evaluated', () => {
    assert.ok(outcome.cases >= 600, `only ${outcome.cases} requests evaluated`)
  })

  for (const { id, title } of CHECKS) {
    test(`${id}: ${title}`, () => {
      const mine = outcome.failures.filter((f) => f.check === id).map((f) => f.message)
      assert.deepEqual(mine, [])
    })
  }
})
