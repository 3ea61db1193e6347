"""The pre-token-generation trigger as a team would write it in Python with boto3: the baseline
that pre-token-generation is measured against (docs/PERFORMANCE.md).

Same behaviour: one strongly consistent GetItem of the user's membership (USER#<sub>), then the
tenant claims go into the ID token (event version 1) or into both tokens (versions 2 and 3). No
membership: the tenant claims are suppressed. A suspended or deleted tenant: sign-in is refused.
"""

import logging
import os

import boto3

CONTROL_TABLE = os.environ["CONTROL_TABLE"]

# Created once per execution environment, at module load, as AWS recommends.
dynamodb = boto3.client("dynamodb")

logger = logging.getLogger()
logger.setLevel(logging.INFO)

CLAIMS = ("tenant_id", "tenant_role", "tenant_tier")


class SignInRefused(Exception):
    pass


def _set(response, path, key, value):
    node = response
    for step in path:
        if not isinstance(node.get(step), dict):
            node[step] = {}
        node = node[step]
    node[key] = value


def _apply(event, key, value):
    if event.get("version") in ("2", "3"):
        for token in ("idTokenGeneration", "accessTokenGeneration"):
            _set(event["response"], ["claimsAndScopeOverrideDetails", token], key, value)
    else:
        _set(event["response"], ["claimsOverrideDetails"], key, value)


def handler(event, context):
    if not isinstance(event.get("response"), dict):
        event["response"] = {}
    if event.get("triggerSource") == "TokenGeneration_ClientCredentials":
        return event
    sub = ((event.get("request") or {}).get("userAttributes") or {}).get("sub") or event.get("userName")
    if not sub:
        raise SignInRefused("Sign-in failed.")

    item = dynamodb.get_item(
        TableName=CONTROL_TABLE,
        Key={"pk": {"S": f"USER#{sub}"}, "sk": {"S": "MEMBERSHIP"}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        logger.info("no membership for user %s: token without tenant claims", sub)
        _apply(event, "claimsToSuppress", list(CLAIMS))
        return event

    status = item["tenant_status"]["S"]
    if status == "suspended":
        raise SignInRefused("Your organization's access is suspended.")
    if status not in ("active", "provisioning"):
        raise SignInRefused("Your organization has been deleted.")
    claims = {
        "tenant_id": item["tenant_id"]["S"],
        "tenant_role": item["role"]["S"],
        "tenant_tier": item["tier"]["S"],
    }
    logger.info("tenant claims issued: user %s tenant %s", sub, claims["tenant_id"])
    _apply(event, "claimsToAddOrOverride", claims)
    return event
