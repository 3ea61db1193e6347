"""A small client for the local stack started by `make dev`.

    tenantry signup EMAIL PASSWORD "ORGANIZATION"   (a basic organization; paid plans come later)
    tenantry confirm EMAIL [CODE]            (without CODE: the code cognito-local "e-mailed")
    tenantry login EMAIL PASSWORD [--new-password NEW] [--totp CODE]
    tenantry call METHOD PATH [JSON] [--as EMAIL]
    tenantry code EMAIL | temp-password EMAIL

It reads the endpoints from .local/dev/stack.json (or --stack FILE) and keeps the tokens in
.local/dev/tokens.json. ID tokens last 15 minutes: `call` refreshes an expired or revoked one
with the stored refresh token (once) and retries. Everything it does can be done with the AWS
CLI and curl (see README).
"""

import argparse
import json
import pathlib
import re
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.exceptions

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_stack(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except FileNotFoundError:
        sys.exit(f"error: {path} not found: is `make dev` running?")


def cognito(stack):
    return boto3.client("cognito-idp", endpoint_url=stack["cognito_endpoint"], region_name=stack["region"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def delivered_code(stack, email):
    """The last code cognito-local "e-mailed" to `email` (a confirmation code, or an invited user's
    temporary password): from its database (rewritten in place, so a read can catch it half
    written: retried), or from the box it prints in its log for each delivery."""
    for _ in range(20):
        try:
            db = json.loads(pathlib.Path(stack["cognito_db"]).read_text())
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
            continue
        for user in db.get("Users", {}).values():
            attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
            if attributes.get("email", "").lower() == email.lower():
                if user.get("UserStatus") == "FORCE_CHANGE_PASSWORD":
                    return user.get("Password")
                if user.get("ConfirmationCode"):
                    return user["ConfirmationCode"]
        break
    log = (pathlib.Path(stack["logs"]) / "cognito.log").read_text(errors="replace")
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", log)
    plain = re.sub("[\u2500-\u257f]", " ", plain)
    words = plain.split()
    code = None
    for i, word in enumerate(words):
        if word == "Destination:" and i + 1 < len(words) and words[i + 1].lower() == email.lower():
            rest = words[i:]
            if "Code:" in rest:
                position = rest.index("Code:")
                code = rest[position + 1] if position + 1 < len(rest) else code
    if code is None:
        sys.exit(f"error: cognito-local delivered no code to {email} (see {stack['logs']}/cognito.log)")
    return code


def tokens_file(stack):
    return pathlib.Path(stack["logs"]) / "tokens.json"


def load_tokens(stack):
    try:
        return json.loads(tokens_file(stack).read_text())
    except FileNotFoundError:
        return {"current": None, "tokens": {}}


def store_token(stack, email, result):
    """Keeps the ID token and, when Cognito sent one, the refresh token of a sign-in."""
    tokens = load_tokens(stack)
    previous = tokens["tokens"].get(email)
    refresh = result.get("RefreshToken") or (previous.get("refresh") if isinstance(previous, dict) else None)
    tokens["tokens"][email] = {"id": result["IdToken"], "refresh": refresh}
    tokens["current"] = email
    tokens_file(stack).write_text(json.dumps(tokens, indent=2))


def refreshed(stack, client, email):
    """A new ID token for `email` from the stored refresh token, or None."""
    entry = load_tokens(stack)["tokens"].get(email)
    if not isinstance(entry, dict) or not entry.get("refresh"):
        return None
    try:
        result = client.initiate_auth(ClientId=stack["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": entry["refresh"]})
    except botocore.exceptions.ClientError:
        return None
    store_token(stack, email, result["AuthenticationResult"])
    return result["AuthenticationResult"]["IdToken"]


def send(stack, token, method, path, body):
    data = body.encode() if body else None
    request = urllib.request.Request(stack["api_url"] + path, data=data, method=method.upper(),
                                     headers={"Authorization": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default=str(ROOT / ".local" / "dev" / "stack.json"))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("signup")
    p.add_argument("email"), p.add_argument("password"), p.add_argument("organization")
    p = sub.add_parser("confirm")
    p.add_argument("email"), p.add_argument("code", nargs="?")
    p = sub.add_parser("login")
    p.add_argument("email"), p.add_argument("password"), p.add_argument("--new-password")
    p.add_argument("--totp", help="the authenticator app's code, for a user who turned TOTP on")
    p = sub.add_parser("call")
    p.add_argument("method"), p.add_argument("path"), p.add_argument("body", nargs="?")
    p.add_argument("--as", dest="user")
    p = sub.add_parser("code")
    p.add_argument("email")
    p = sub.add_parser("temp-password")
    p.add_argument("email")
    args = parser.parse_args()
    stack = load_stack(args.stack)
    client = cognito(stack)

    try:
        if args.command == "signup":
            attributes = [{"Name": "email", "Value": args.email},
                          {"Name": "custom:tenant_name", "Value": args.organization}]
            client.sign_up(ClientId=stack["client_id"], Username=args.email, Password=args.password,
                           UserAttributes=attributes)
            print(f"Signed up {args.email}. Next: tenantry confirm {args.email}")
        elif args.command == "confirm":
            code = args.code or delivered_code(stack, args.email)
            client.confirm_sign_up(ClientId=stack["client_id"], Username=args.email, ConfirmationCode=code)
            print(f"Confirmed {args.email}: its organization is onboarded. Next: tenantry login {args.email} PASSWORD")
        elif args.command == "login":
            result = client.initiate_auth(ClientId=stack["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                          AuthParameters={"USERNAME": args.email, "PASSWORD": args.password})
            if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
                if not args.new_password:
                    sys.exit("This user must choose a new password: add --new-password NEW")
                client.respond_to_auth_challenge(
                    ClientId=stack["client_id"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=result["Session"],
                    ChallengeResponses={"USERNAME": args.email, "NEW_PASSWORD": args.new_password})
                result = client.initiate_auth(ClientId=stack["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                              AuthParameters={"USERNAME": args.email, "PASSWORD": args.new_password})
            if result.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
                if not args.totp:
                    sys.exit("This user signs in with an authenticator app: add --totp CODE")
                result = client.respond_to_auth_challenge(
                    ClientId=stack["client_id"], ChallengeName="SOFTWARE_TOKEN_MFA", Session=result["Session"],
                    ChallengeResponses={"USERNAME": args.email, "SOFTWARE_TOKEN_MFA_CODE": args.totp})
            store_token(stack, args.email, result["AuthenticationResult"])
            print(f"Signed in as {args.email}; the ID token is stored for `tenantry call`.")
        elif args.command == "call":
            tokens = load_tokens(stack)
            user = args.user or tokens["current"]
            if not user or user not in tokens["tokens"]:
                sys.exit("error: sign in first: tenantry login EMAIL PASSWORD")
            entry = tokens["tokens"][user]
            token = entry["id"] if isinstance(entry, dict) else entry
            status, body = send(stack, token, args.method, args.path, args.body)
            if status == 401:
                # Expired (they last 15 minutes) or revoked (a role change, say): one refresh.
                fresh = refreshed(stack, client, user)
                if fresh:
                    print("(token refreshed)", file=sys.stderr)
                    status, body = send(stack, fresh, args.method, args.path, args.body)
            print(f"HTTP {status}", file=sys.stderr)
            text = body.decode(errors="replace")
            try:
                print(json.dumps(json.loads(text), indent=2))
            except ValueError:
                print(text)
            return 0 if status < 400 else 1
        elif args.command in ("code", "temp-password"):
            print(delivered_code(stack, args.email))
    except botocore.exceptions.ClientError as err:
        sys.exit(f"error: {err.response['Error'].get('Code')}: {err.response['Error'].get('Message')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
