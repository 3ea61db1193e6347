#!/usr/bin/env python3
"""Creates the DynamoDB tables defined in template.yaml on a local DynamoDB endpoint (moto), with
the same key schema, indexes, TTL, encryption and streams. Prints {"<LogicalId>": "<table name>"}
as JSON.

    local_tables.py --endpoint http://127.0.0.1:PORT --stack-name tenantry-local
"""

import argparse
import json
import pathlib
import sys

import boto3

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))  # template.py
import template  # noqa: E402


def table_requests(stack_name):
    doc = template.load()
    for logical_id, props in template.resources(doc, "AWS::DynamoDB::Table"):
        request = {
            "TableName": template.resolve(props["TableName"], stack_name),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("SSESpecification", {}).get("SSEEnabled"):
            request["SSESpecification"] = {"Enabled": True}
        if props.get("StreamSpecification", {}).get("StreamViewType"):
            # The template's form names only the view type; the API's also turns the stream on.
            request["StreamSpecification"] = {"StreamEnabled": True,
                                              "StreamViewType": props["StreamSpecification"]["StreamViewType"]}
        yield logical_id, request, props.get("TimeToLiveSpecification")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack-name", required=True)
    args = parser.parse_args()
    client = boto3.client(
        "dynamodb", endpoint_url=args.endpoint, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )
    existing = set(client.list_tables()["TableNames"])
    names = {}
    for logical_id, request, ttl in table_requests(args.stack_name):
        names[logical_id] = request["TableName"]
        if request["TableName"] in existing:
            continue
        client.create_table(**request)
        client.get_waiter("table_exists").wait(TableName=request["TableName"])
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=request["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
    json.dump(names, sys.stdout)
    print()


if __name__ == "__main__":
    main()
