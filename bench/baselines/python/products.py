"""GET /products/{productId} as a team would write it in Python with boto3: the baseline that
products-api is measured against (docs/PERFORMANCE.md).

Same calls in the same order as products-api: the tenant comes from the authorizer's verified
claims; the tenant's record in the control table (status and dedicated table, a projected read) is
cached for 10 s; credentials scoped to the tenant come from STS AssumeRole with the session tag
TenantId and are cached until five minutes before they expire; then one strongly consistent
GetItem of the product.
"""

import json
import logging
import os
import re
import time

import boto3

DATA_TABLE = os.environ["DATA_TABLE"]
CONTROL_TABLE = os.environ["CONTROL_TABLE"]
TENANT_ROLE_ARN = os.environ["TENANT_ROLE_ARN"]

# Created once per execution environment, at module load, as AWS recommends.
dynamodb = boto3.client("dynamodb")
sts = boto3.client("sts")

logger = logging.getLogger()
logger.setLevel(logging.INFO)

ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHARDS = 4
ROLES = ("admin", "member")
RECORD_TTL = 10.0
REFRESH_BEFORE_EXPIRY = 300.0

_locations = {}  # tenant id -> (fetched at, status, table)
_clients = {}  # tenant id -> (credentials expire at, tenant-scoped DynamoDB client)


def _problem(status, code, title):
    body = {"type": f"https://tenantry.dev/problems/{code}", "title": title, "status": status, "code": code}
    return {
        "statusCode": status,
        "headers": {"content-type": "application/problem+json"},
        "body": json.dumps(body),
    }


def _location(tenant):
    cached = _locations.get(tenant)
    now = time.monotonic()
    if cached and now - cached[0] < RECORD_TTL:
        return cached[1], cached[2]
    item = dynamodb.get_item(
        TableName=CONTROL_TABLE,
        Key={"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": "TENANT"}},
        ProjectionExpression="#status, data_table",
        ExpressionAttributeNames={"#status": "status"},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        return None
    status = item["status"]["S"]
    table = item.get("data_table", {}).get("S", DATA_TABLE)
    _locations[tenant] = (now, status, table)
    return status, table


def _client_for(tenant):
    cached = _clients.get(tenant)
    if cached and cached[0] - time.time() > REFRESH_BEFORE_EXPIRY:
        return cached[1]
    credentials = sts.assume_role(
        RoleArn=TENANT_ROLE_ARN,
        RoleSessionName=f"tenant-{tenant}",
        Tags=[{"Key": "TenantId", "Value": tenant}],
        DurationSeconds=3600,
    )["Credentials"]
    client = boto3.client(
        "dynamodb",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    _clients[tenant] = (credentials["Expiration"].timestamp(), client)
    logger.info("tenant-scoped credentials issued for tenant %s", tenant)
    return client


def handler(event, context):
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    tenant = claims.get("tenant_id", "")
    if not ULID.match(tenant) or claims.get("tenant_role") not in ROLES:
        return _problem(401, "unauthenticated", "Sign in again.")
    product_id = (event.get("pathParameters") or {}).get("productId", "")
    if not ULID.match(product_id):
        return _problem(404, "not-found", "No such product.")

    location = _location(tenant)
    if location is None or location[0] not in ("active", "provisioning"):
        return _problem(403, "tenant-inactive", "Your organization's access is suspended.")
    if location[0] == "provisioning":
        return _problem(503, "tenant-not-ready", "Your organization is being set up.")

    shard = CROCKFORD.index(product_id[-1]) % SHARDS
    item = _client_for(tenant).get_item(
        TableName=location[1],
        Key={"pk": {"S": f"{tenant}#PRODUCT#{shard}"}, "sk": {"S": product_id}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        return _problem(404, "not-found", "No such product.")

    product = {
        "id": item["id"]["S"],
        "name": item["name"]["S"],
        "description": item["description"]["S"],
        "sku": item["sku"]["S"],
        "price": int(item["price"]["N"]),
        "currency": item["currency"]["S"],
        "active": item["active"]["BOOL"],
        "version": int(item["version"]["N"]),
        "created_at": item["created_at"]["S"],
        "updated_at": item["updated_at"]["S"],
    }
    logger.info("product read: tenant %s user %s", tenant, claims.get("sub"))
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "etag": f'"{product["version"]}"'},
        "body": json.dumps(product),
    }
