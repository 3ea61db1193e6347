#!/usr/bin/env python3
"""Seeds the local DynamoDB server (moto) with the items the benchmark's sample events read: tenant
A's record (active), Alice's profile (admin of tenant A) and one product of tenant A. The same
values are what the harness's stub answers (bench/harness/src/stub.rs), so both backends serve the
functions identical data.

    moto_seed.py --endpoint http://127.0.0.1:PORT --data-table NAME --control-table NAME
"""

import argparse

import boto3

TENANT = "01JB8Z4K2M6Q9R3T5V7W9XAAAA"  # tenant A in events/
USER = "0a000000-0000-4000-8000-00000000a0ad"  # Alice, admin of tenant A
EMAIL = "alice@acme.example"
PRODUCT = "01JB9A00000000000000000PA1"  # the product in events/products-api/get-product.*.json
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHARDS = 4
STAMP = "2026-01-15T09:30:00Z"


def s(value):
    return {"S": value}


def n(value):
    return {"N": str(value)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--data-table", required=True)
    parser.add_argument("--control-table", required=True)
    args = parser.parse_args()
    client = boto3.client(
        "dynamodb", endpoint_url=args.endpoint, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )
    client.put_item(TableName=args.control_table, Item={
        "pk": s(f"TENANT#{TENANT}"), "sk": s("TENANT"), "entity": s("tenant"),
        "id": s(TENANT), "tenant_id": s(TENANT), "name": s("Acme Tea"), "tier": s("basic"),
        "status": s("active"), "settings": s("{}"), "version": n(1), "user_count": n(2),
        "admin_count": n(1), "created_at": s(STAMP), "updated_at": s(STAMP),
        "gsi1pk": s("TENANTS"), "gsi1sk": s(TENANT),
    })
    membership = {"role": s("admin"), "tier": s("basic"), "tenant_status": s("active"), "state": s("active")}
    client.put_item(TableName=args.control_table, Item={
        "pk": s(f"USER#{USER}"), "sk": s("MEMBERSHIP"), "entity": s("profile"),
        "user_id": s(USER), "email": s(EMAIL), "active": s(TENANT),
        "orgs": {"M": {TENANT: {"M": membership}}},
    })
    # The product's shard is the low bits of its ULID (keys::product in shared/src/keys.rs).
    shard = CROCKFORD.index(PRODUCT[-1]) % SHARDS
    client.put_item(TableName=args.data_table, Item={
        "pk": s(f"{TENANT}#PRODUCT#{shard}"), "sk": s(PRODUCT), "entity": s("product"),
        "tenant_id": s(TENANT), "id": s(PRODUCT), "name": s("Sencha"),
        "description": s("Steamed green tea, 100 g."), "sku": s("TEA-SEN-100"), "price": n(1250),
        "currency": s("EUR"), "active": {"BOOL": True}, "version": n(1),
        "created_at": s(STAMP), "updated_at": s(STAMP),
    })


if __name__ == "__main__":
    main()
