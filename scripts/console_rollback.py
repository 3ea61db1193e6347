#!/usr/bin/env python3
"""Rolls the web console back to an earlier publication (docs/OPERATIONS.md, "Rolling back").

The console bucket keeps every version of its files. A publication (scripts/publish_console.sh)
adds hashed assets, which are never overwritten, and replaces index.html, which names them: an
earlier index.html brings back the console it was published with. This copies it over the
current one (a new version: the rollback can itself be undone) and has CloudFront drop its copy.
config.json is left as it is: it describes the stack, not the console's code.

    console_rollback.py --env prod [--list] [--steps N]
"""

import argparse
import pathlib
import sys
import time

import boto3

import samconfig

PAGE = "index.html"


def outputs(cloudformation, stack):
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def versions(s3, bucket):
    """index.html's versions, newest first: S3 lists a key's versions in that order, the one to
    trust (their times have a second's precision only). Delete markers are left out."""
    found, kwargs = [], {"Bucket": bucket, "Prefix": PAGE}
    while True:
        answer = s3.list_object_versions(**kwargs)
        found += [v for v in answer.get("Versions", []) if v["Key"] == PAGE]
        if not answer.get("IsTruncated"):
            break
        kwargs.update(KeyMarker=answer["NextKeyMarker"], VersionIdMarker=answer["NextVersionIdMarker"])
    return found


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="an environment of samconfig.toml (dev, prod)")
    parser.add_argument("--list", action="store_true", help="list the publications of index.html, change nothing")
    parser.add_argument("--steps", type=int, default=1, help="how many publications back (default 1: the previous)")
    parser.add_argument("--config", default=str(samconfig.SAMCONFIG), help="the samconfig.toml to read")
    parser.add_argument("--endpoint-url", help="another AWS endpoint")
    args = parser.parse_args(argv)
    config = samconfig.load(args.env, pathlib.Path(args.config))

    def client(service):
        return boto3.client(service, region_name=config["region"], endpoint_url=args.endpoint_url)

    found = outputs(client("cloudformation"), config["stack_name"])
    bucket, distribution = found.get("ConsoleBucketName"), found.get("ConsoleDistributionId")
    if not bucket or not distribution:
        print(f"console rollback: {config['stack_name']} has no console outputs (ConsoleBucketName, "
              "ConsoleDistributionId)", file=out)
        return 1
    s3 = client("s3")
    history = versions(s3, bucket)
    if args.list:
        for n, version in enumerate(history):
            print(f"  {n:>3}  {version['LastModified']:%Y-%m-%d %H:%M:%S}  {version['VersionId']}"
                  f"{'  (current)' if version.get('IsLatest') else ''}", file=out)
        return 0
    if args.steps < 1 or args.steps >= len(history):
        print(f"console rollback: index.html has {len(history)} versions in {bucket}: "
              f"cannot go {args.steps} back", file=out)
        return 1
    target = history[args.steps]
    s3.copy_object(Bucket=bucket, Key=PAGE, CopySource={"Bucket": bucket, "Key": PAGE, "VersionId": target["VersionId"]},
                   MetadataDirective="REPLACE", ContentType="text/html", CacheControl="no-cache")
    client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": [f"/{PAGE}"]}, "CallerReference": f"rollback-{time.time()}"})
    print(f"The console of {target['LastModified']:%Y-%m-%d %H:%M:%S} (version {target['VersionId']}) is back in "
          f"{bucket}; CloudFront serves it within minutes. Undo: console_rollback.py --env {args.env}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
