#!/usr/bin/env python3
"""The API's contract, tested against a running local stack with Schemathesis: generated
requests for every operation of docs/openapi.json, from the document's examples, its
boundaries, random data and stateful sequences, as the admin of one organization, a member of
another and a platform operator. Any server error, or any answer outside the document (status,
content type, headers, body), fails.

    contract_test.py --stack STACK_JSON [--max-examples N] [--report-dir DIR]

`make test` runs it with few examples per operation; `make fuzz` with many. Deleting the
organization (DELETE /tenant) runs last, on its own: it ends the organization the rest runs in.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))  # the client
import tenantry_client as client  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PASSWORD = "Contract-Test-Password-9"
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance",
])


# The phases of a run of one operation (sequences need several).
SINGLE = ["--phases", "examples,coverage,fuzzing"]

# Run after the others: changing the organization's settings can require MFA of everyone, and
# deleting it ends it.
AFTERWARDS = ["--exclude-operation-id", "updateTenant", "--exclude-operation-id", "deleteTenant"]


def person(stack, cognito, label, organization):
    """A new organization's admin: signed up, confirmed, signed in. Returns the ID token."""
    email = f"{label}-{uuid.uuid4().hex[:10]}@contract.example"
    cognito.sign_up(ClientId=stack["client_id"], Username=email, Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": email},
                                    {"Name": "custom:tenant_name", "Value": organization}])
    cognito.confirm_sign_up(ClientId=stack["client_id"], Username=email,
                            ConfirmationCode=stack.get("delivery_code") or client.delivered_code(stack, email))
    return email, sign_in(stack, cognito, email)


def sign_in(stack, cognito, email):
    result = cognito.initiate_auth(ClientId=stack["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    return result["AuthenticationResult"]["IdToken"]


def schemathesis(stack, token, examples, report, *filters):
    command = [str(VENV_BIN / "schemathesis"), "run", str(ROOT / "docs" / "openapi.json"),
               "--url", stack["api_url"], "--header", f"Authorization:{token}",
               "--checks", CHECKS, "--max-examples", str(examples), "--workers", "1",
               "--request-timeout", "30", "--suppress-health-check", "all",
               "--generation-database", "none", "--report", "junit", "--report-dir", str(report),
               *filters]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT)
    print(f"    schemathesis {' '.join(filters) or '(every operation)'}: exit {result.returncode} "
          f"in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return result.returncode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", required=True)
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--report-dir", default=str(ROOT / ".local" / "contract"))
    args = parser.parse_args()
    stack = client.load_stack(args.stack)
    cognito = client.cognito(stack)
    report = pathlib.Path(args.report_dir)
    report.mkdir(parents=True, exist_ok=True)

    _, admin = person(stack, cognito, "contract-admin", "Contract Org")
    operator_email, _ = person(stack, cognito, "contract-operator", "Operator Org")
    cognito_admin = client.cognito(stack)
    cognito_admin.admin_add_user_to_group(UserPoolId=stack["user_pool_id"], Username=operator_email,
                                          GroupName="platform-admin")
    operator = sign_in(stack, cognito, operator_email)

    member = invited_member(stack, cognito, admin)

    runs = [
        # Everything but the organization's end, as its admin; as a member (refused what is
        # for admins); the operators' routes as a platform operator.
        ("admin", admin, AFTERWARDS),
        ("member", member, AFTERWARDS),
        ("operator", operator, ["--include-tag", "admin"]),
        # Last: the organization's settings (which may require MFA of everyone, refusing the
        # runs above) and its end; one operation each, so no sequences.
        ("admin-settings", admin, ["--include-operation-id", "updateTenant", *SINGLE]),
        ("admin-leaving", admin, ["--include-operation-id", "deleteTenant", *SINGLE]),
    ]
    failed = [name for name, token, filters in runs
              if schemathesis(stack, token, args.max_examples, report / name, *filters) != 0]
    if failed:
        print(f"error: the API answered outside its contract (runs: {', '.join(failed)}; reports in {report})",
              file=sys.stderr)
        return 1
    return 0


def invited_member(stack, cognito, admin_token):
    """A member of the admin's organization: invited through the API, signed in with the
    temporary password, a password of their own chosen."""
    email = f"contract-member-{uuid.uuid4().hex[:10]}@contract.example"
    status, body = client.send(stack, admin_token, "POST", "/users", json.dumps({"email": email, "role": "member"}))
    if status != 201:
        sys.exit(f"error: inviting the contract test's member answered {status}: {body}")
    temporary = stack.get("delivery_code") or client.delivered_code(stack, email)
    result = cognito.initiate_auth(ClientId=stack["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": temporary})
    cognito.respond_to_auth_challenge(ClientId=stack["client_id"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                      Session=result["Session"],
                                      ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": PASSWORD})
    return sign_in(stack, cognito, email)


if __name__ == "__main__":
    sys.exit(main())
