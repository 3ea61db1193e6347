"""The pre-token-generation trigger as a team would write it in Python with boto3: the baseline
that pre-token-generation is measured against (docs/PERFORMANCE.md).

Same behaviour: one strongly consistent GetItem of the user's profile (USER#<sub>, every
membership and the chosen organization), then one organization's tenant claims go into the ID
token (event version 1) or into both tokens (versions 2 and 3): the chosen one while usable, else
the oldest usable one. None usable: the tenant claims are suppressed. (The Rust trigger also
checks the second factor of organizations that require it; this baseline does not.)
"""

import logging
import os

import boto3

CONTROL_TABLE = os.environ["CONTROL_TABLE"]

# Created once per execution environment, at module load, as AWS recommends.
dynamodb = boto3.client("dynamodb")

logger = logging.getLogger()
logger.setLevel(logging.INFO)

CLAIMS = ("tenant_id", "tenant_role", "tenant_tier", "tenant_grant")


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
    orgs = {} if item is None else item.get("orgs", {}).get("M", {})

    def usable(tenant):
        entry = orgs.get(tenant, {}).get("M")
        return (entry is not None and entry.get("state", {}).get("S") == "active"
                and entry["tenant_status"]["S"] in ("active", "provisioning"))

    # The chosen organization while usable, else the oldest usable one (ids sort by creation).
    chosen = (item or {}).get("active", {}).get("S")
    if chosen is None or not usable(chosen):
        chosen = next((tenant for tenant in sorted(orgs) if usable(tenant)), None)
    if chosen is None:
        logger.info("no usable membership for user %s: token without tenant claims", sub)
        _apply(event, "claimsToSuppress", list(CLAIMS))
        return event

    entry = orgs[chosen]["M"]
    claims = {
        "tenant_id": chosen,
        "tenant_role": entry["role"]["S"],
        "tenant_tier": entry["tier"]["S"],
        "tenant_grant": entry.get("granted_at", {}).get("N", "0"),
    }
    logger.info("tenant claims issued: user %s tenant %s", sub, claims["tenant_id"])
    _apply(event, "claimsToAddOrOverride", claims)
    return event
