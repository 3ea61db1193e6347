// A strict wrapper around @cloud-copilot/iam-simulate (test-only, AGPL).
//
// iam-simulate validates the request: it drops context keys that IAM does not define for the
// action ("ignoredContextKeys") and refuses unknown actions or resource types. A dropped key would
// silently turn `ForAllValues` into a vacuous truth, so any dropped key, validation error or
// ignored condition is an error here, never a result.

import { runSimulation } from '@cloud-copilot/iam-simulate'
import { DEPLOYMENT } from './template.mjs'

export class SimulationError extends Error {}

/**
 * Evaluates one request. Returns 'Allowed', 'ImplicitlyDenied' or 'ExplicitlyDenied'.
 *
 * @param {object} args
 * @param {string} args.principal  the caller's ARN (an assumed-role session, a role, the root)
 * @param {string} args.action     e.g. 'dynamodb:GetItem'
 * @param {string} args.resource   the resource ARN ('*' for wildcard-only actions)
 * @param {Record<string, string|string[]>} [args.context] request context keys
 * @param {{name: string, policy: object}[]} [args.identityPolicies]
 * @param {object} [args.resourcePolicy] e.g. a role's trust policy for sts:AssumeRole
 */
export async function evaluate({ principal, action, resource, context = {}, identityPolicies = [], resourcePolicy }) {
  const response = await runSimulation(
    {
      request: {
        principal,
        action,
        resource: { resource, accountId: DEPLOYMENT.accountId },
        contextVariables: context
      },
      identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {})
    },
    { simulationMode: 'Strict' }
  )
  const what = `${action} on ${resource} by ${principal}`
  if (response.resultType === 'error') {
    throw new SimulationError(`iam-simulate refused ${what}: ${JSON.stringify(response.errors)}`)
  }
  if (response.resultType !== 'single') {
    throw new SimulationError(`iam-simulate ran a ${response.resultType} simulation for ${what}: name one resource`)
  }
  const { result } = response
  if (result.ignoredContextKeys?.length) {
    throw new SimulationError(
      `iam-simulate dropped context keys ${JSON.stringify(result.ignoredContextKeys)} for ${what}`
    )
  }
  if (result.analysis.ignoredConditions) {
    throw new SimulationError(`iam-simulate ignored conditions for ${what}`)
  }
  return response.overallResult
}
