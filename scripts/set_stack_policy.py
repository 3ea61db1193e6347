#!/usr/bin/env python3
"""Sets stack-policy.json as the deployed stack's policy: no update may replace or delete the
user pool or the tables (the template retains them too). A deliberate replacement is made with a
temporary policy for that one update (docs/OPERATIONS.md).

    set_stack_policy.py --env prod
"""

import argparse
import json
import pathlib
import sys

import boto3

import samconfig

POLICY = pathlib.Path(__file__).resolve().parent.parent / "stack-policy.json"


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="an environment of samconfig.toml (dev, prod)")
    parser.add_argument("--config", default=str(samconfig.SAMCONFIG), help="the samconfig.toml to read")
    parser.add_argument("--endpoint-url", help="another AWS endpoint")
    args = parser.parse_args(argv)
    config = samconfig.load(args.env, pathlib.Path(args.config))
    body = json.dumps(json.loads(POLICY.read_text()))
    cloudformation = boto3.client("cloudformation", region_name=config["region"], endpoint_url=args.endpoint_url)
    cloudformation.set_stack_policy(StackName=config["stack_name"], StackPolicyBody=body)
    print(f"{config['stack_name']}: stack-policy.json set", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
