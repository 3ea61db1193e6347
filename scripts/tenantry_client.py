"""A small client for the local stack started by `make dev`.

    tenantry signup EMAIL PASSWORD "ORGANIZATION"   (a basic organization; paid plans come later)
    tenantry confirm EMAIL [CODE]            (without CODE: the code cognito-local "e-mailed")
    tenantry login EMAIL PASSWORD [--new-password NEW] [--totp CODE]
    tenantry call METHOD PATH [JSON] [--as EMAIL]
    tenantry code EMAIL | temp-password EMAIL
    tenantry mail EMAIL                      (the e-mails the service sent to EMAIL, oldest first)

For a person in several organizations (each also takes --as EMAIL):

    tenantry orgs                            (theirs; * marks the one the next token carries)
    tenantry switch ORG                      (makes ORG active and refreshes the stored token)
    tenantry create-org "NAME" | leave ORG
    tenantry invitations | accept ORG | decline ORG

Paid plans (on the local stack, the Stripe stand-in plays the customer's payment):

    tenantry checkout PLAN [month|year]      (an admin: the payment page's URL)
    tenantry pay EMAIL                       (pays EMAIL's open checkout, as the page's button does)
    tenantry fail-payment EMAIL | pay-again EMAIL | cancel-subscription EMAIL
    tenantry billing                         (plan, subscription, grace deadline, invoices)

ORG is an organization id, or its name (any case) among `orgs` (for `accept` and `decline`:
among `invitations`).

It reads the endpoints from .local/dev/stack.json (or --stack FILE) and keeps the tokens in
.local/dev/tokens.json. ID tokens last 15 minutes: every command that calls the API refreshes an
expired or revoked one with the stored refresh token (once) and retries. Everything it does can
be done with the AWS CLI and curl (see docs/DEVELOPMENT.md).
"""

import argparse
import base64
import html
import json
import pathlib
import re
import sys
import time
import urllib.error
import urllib.parse
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


def store_token(stack, email, result, current=True):
    """Keeps the ID token and, when Cognito sent one, the refresh token of a sign-in; a sign-in
    (not a refresh) makes `email` the user of the commands without --as."""
    tokens = load_tokens(stack)
    previous = tokens["tokens"].get(email)
    refresh = result.get("RefreshToken") or (previous.get("refresh") if isinstance(previous, dict) else None)
    tokens["tokens"][email] = {"id": result["IdToken"], "refresh": refresh}
    if current or not tokens.get("current"):
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
    store_token(stack, email, result["AuthenticationResult"], current=False)
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


def signed_in(stack, user):
    """`user` (--as), or the last one who signed in; exits when they have no stored token."""
    tokens = load_tokens(stack)
    user = user or tokens["current"]
    if not user or user not in tokens["tokens"]:
        sys.exit("error: sign in first: tenantry login EMAIL PASSWORD")
    return user


def stored_id_token(stack, user):
    entry = load_tokens(stack)["tokens"].get(user)
    return entry["id"] if isinstance(entry, dict) else entry


def send_as(stack, client, user, method, path, body):
    """`send` with `user`'s stored ID token; on a 401, one refresh and a retry."""
    try:
        status, answer = send(stack, stored_id_token(stack, user), method, path, body)
        if status == 401:
            # Expired (they last 15 minutes) or revoked (a role change, say): one refresh.
            fresh = refreshed(stack, client, user)
            if fresh:
                print("(token refreshed)", file=sys.stderr)
                status, answer = send(stack, fresh, method, path, body)
    except OSError as err:
        sys.exit(f"error: cannot reach the API at {stack['api_url']}: {getattr(err, 'reason', err)}")
    return status, answer


def api(stack, client, user, method, path, payload=None):
    """The parsed answer (None when empty) of a successful call; on an error status, its problem's
    code and detail on stderr and exit 1."""
    status, answer = send_as(stack, client, user, method, path,
                             json.dumps(payload) if payload is not None else None)
    text = answer.decode(errors="replace")
    if status >= 400:
        try:
            problem = json.loads(text)
        except ValueError:
            problem = None
        if isinstance(problem, dict):
            code = problem.get("code")
            detail = problem.get("detail") or problem.get("title") or problem.get("message") or text
        else:
            code, detail = None, text.strip() or "(no body)"
        hint = f" (sign in again: tenantry login {user} PASSWORD)" if status == 401 else ""
        print(f"error: HTTP {status}" + (f" {code}" if code else "") + f": {detail}{hint}", file=sys.stderr)
        sys.exit(1)
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        sys.exit(f"error: HTTP {status} with a body that is not JSON: {text[:200]}")


def token_claims(token):
    """The payload of a JWT, unverified (for display only)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, ValueError):
        return {}


ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$", re.IGNORECASE)


def describe(items, key):
    return "; ".join(f"{item.get('name') or '(unnamed)'} ({item[key]})" for item in items) or "none"


def matches(wanted, items, key):
    """The item whose id (`key`) is `wanted`, or else those whose name is `wanted` in any case."""
    by_id = [item for item in items if str(item[key]).lower() == wanted.lower()]
    return by_id or [item for item in items if (item.get("name") or "").casefold() == wanted.casefold()]


def resolve(wanted, items, key, what):
    """The id of the item whose id is `wanted`, or whose name is `wanted` in any case; an id that
    is in no item goes to the API as it is (which answers for it)."""
    named = matches(wanted, items, key)
    if len(named) == 1:
        return named[0][key]
    if named:
        sys.exit(f"error: {len(named)} {what} are named {wanted!r}: give the id of one of them: "
                 f"{describe(named, key)}")
    if ULID.match(wanted):
        return wanted.upper()
    sys.exit(f"error: none of your {what} is named {wanted!r}"
             + (f"; yours: {describe(items, key)}" if items else f" (you have no {what})"))


def table(rows, headers):
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    for row in [headers, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


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
    p = sub.add_parser("mail", help="the e-mails the service sent to EMAIL (local stack)")
    p.add_argument("email")
    p = sub.add_parser("checkout", help="start paying for a plan: prints the payment page")
    p.add_argument("plan", choices=["standard", "premium"])
    p.add_argument("interval", nargs="?", default="month", choices=["month", "year"])
    p.add_argument("--as", dest="user")
    p = sub.add_parser("billing", help="the organization's plan, subscription and invoices")
    p.add_argument("--as", dest="user")
    for command, what in (("pay", "pay EMAIL's open checkout"), ("fail-payment", "fail EMAIL's next payment"),
                          ("pay-again", "pay EMAIL's failed invoice"),
                          ("cancel-subscription", "cancel EMAIL's subscription")):
        p = sub.add_parser(command, help=f"local stack only: {what}, as the customer would")
        p.add_argument("email")
    p = sub.add_parser("orgs", help="your organizations; * marks the active one")
    p.add_argument("--as", dest="user")
    p = sub.add_parser("switch", help="make an organization active and refresh the stored token")
    p.add_argument("tenant", metavar="ORG", help="an organization id, or its name among `orgs`")
    p.add_argument("--as", dest="user")
    p = sub.add_parser("create-org", help="a new basic organization, with you as its admin")
    p.add_argument("name")
    p.add_argument("--as", dest="user")
    p = sub.add_parser("leave", help="leave an organization (not as its last admin)")
    p.add_argument("tenant", metavar="ORG", help="an organization id, or its name among `orgs`")
    p.add_argument("--as", dest="user")
    p = sub.add_parser("invitations", help="invitations waiting for your answer")
    p.add_argument("--as", dest="user")
    for command in ("accept", "decline"):
        p = sub.add_parser(command, help=f"{command} an invitation")
        p.add_argument("tenant", metavar="ORG", help="an organization id, or its name among `invitations`")
        p.add_argument("--as", dest="user")
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
            user = signed_in(stack, args.user)
            status, body = send_as(stack, client, user, args.method, args.path, args.body)
            print(f"HTTP {status}", file=sys.stderr)
            text = body.decode(errors="replace")
            try:
                print(json.dumps(json.loads(text), indent=2))
            except ValueError:
                print(text)
            return 0 if status < 400 else 1
        elif args.command in ("code", "temp-password"):
            print(delivered_code(stack, args.email))
        elif args.command == "mail":
            return show_mail(stack, args.email)
        elif args.command in ("pay", "fail-payment", "pay-again", "cancel-subscription"):
            return customer_step(stack, args.command, args.email)
        elif args.command in ("checkout", "billing"):
            user = signed_in(stack, args.user)
            if args.command == "checkout":
                started = api(stack, client, user, "POST", "/billing/checkout",
                              {"plan": args.plan, "interval": args.interval})
                print(f"Payment page: {started['url']}\n(local stack: tenantry pay {user})")
            else:
                print(json.dumps(api(stack, client, user, "GET", "/billing"), indent=2))
        else:
            return organization_command(args, stack, client, signed_in(stack, args.user))
    except botocore.exceptions.ClientError as err:
        sys.exit(f"error: {err.response['Error'].get('Code')}: {err.response['Error'].get('Message')}")
    except botocore.exceptions.BotoCoreError as err:
        sys.exit(f"error: Cognito at {stack['cognito_endpoint']}: {err}")
    return 0


def sent_mail(stack, email):
    """The messages SES (moto's) accepted for `email`, oldest first: (subject, text)."""
    url = f"{stack['mail_endpoint']}/moto-api/data.json"
    with urllib.request.urlopen(url) as response:
        data = json.loads(response.read())
    out = []
    for message in data.get("ses", {}).get("Message", []):
        recipients = [address for addresses in (message.get("destinations") or {}).values() for address in addresses]
        if any(address.lower() == email.lower() for address in recipients):
            # moto keeps the HTML part: shown as text.
            text = re.sub(r"<li>", "\n- ", message.get("body") or "")
            text = re.sub(r"</p>|</ul>", "\n", text)
            text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<title>.*?</title>", "", text)))
            out.append((message.get("subject"), re.sub(r"\n{3,}", "\n\n", text).strip()))
    return out


def show_mail(stack, email):
    try:
        messages = sent_mail(stack, email)
    except OSError as err:
        sys.exit(f"error: cannot reach the local SES (moto) at {stack['mail_endpoint']}: {err}")
    if not messages:
        print(f"No e-mail was sent to {email} (Cognito's own codes: tenantry code {email}).")
    for subject, text in messages:
        print(f"Subject: {subject}\n\n{text}\n\n----")
    return 0


def customer_step(stack, command, email):
    """What a customer does at the payment provider, played on the local Stripe stand-in."""
    endpoint = stack.get("stripe_endpoint")
    if not endpoint:
        sys.exit("error: this stack has no Stripe stand-in (payments are real outside the local stack)")
    action = {"pay": "checkout", "fail-payment": "fail", "pay-again": "pay", "cancel-subscription": "cancel"}[command]
    url = f"{endpoint}/test/emails/{urllib.parse.quote(email)}/{action}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST")) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = json.loads(err.read() or b"{}").get("error", {}).get("message", err.reason)
        sys.exit(f"error: {detail}")
    except OSError as err:
        sys.exit(f"error: cannot reach the Stripe stand-in at {endpoint}: {err}")
    done = {"pay": "paid the checkout", "fail-payment": "failed a payment of",
            "pay-again": "paid the open invoice of", "cancel-subscription": "cancelled"}[command]
    subject = answer.get("subscription") or answer.get("id")
    print(f"{email}: {done} {subject}; the webhook events were delivered.")
    return 0


def organization_command(args, stack, client, user):
    """orgs, switch, create-org, leave, invitations, accept, decline: `user`'s organizations."""
    def organizations():
        return api(stack, client, user, "GET", "/me/organizations")["items"]

    def pending():
        return api(stack, client, user, "GET", "/me/invitations")["items"]

    as_user = f" --as {user}" if args.user else ""

    if args.command == "orgs":
        items = organizations()
        if not items:
            print(f"{user} belongs to no organization. Create one: tenantry create-org NAME")
            return 0
        table([["*" if item["active"] else "", item.get("name") or "(unnamed)", item["role"], item["tier"],
                item["status"], item["id"]] for item in items],
              ["", "NAME", "ROLE", "TIER", "STATUS", "ID"])
        carried = token_claims(stored_id_token(stack, user)).get("tenant_id")
        active = next((item for item in items if item["active"]), None)
        if active and carried and carried != active["id"]:
            now = next((item.get("name") or item["id"] for item in items if item["id"] == carried),
                       f"{carried}, which is not among these")
            print(f"(the stored token still carries {now}; the next one carries the * one: "
                  f"tenantry switch {active['id']}{as_user})")
    elif args.command == "switch":
        tenant = resolve(args.tenant, organizations(), "id", "organizations")
        chosen = api(stack, client, user, "PUT", "/me/active-organization", {"tenant_id": tenant})
        name = chosen.get("name") or tenant
        if not chosen.get("active"):
            print(f"{name}: {chosen.get('detail')}", file=sys.stderr)
        fresh = refreshed(stack, client, user)
        if not fresh:
            sys.exit(f"error: {name} is chosen, but the stored token could not be refreshed: "
                     f"sign in again (tenantry login {user} PASSWORD)")
        claims = token_claims(fresh)
        carried = claims.get("tenant_id")
        if carried == tenant:
            print(f"Switched: {user}'s token now carries {name} ({tenant}) as {claims.get('tenant_role')}.")
            return 0
        now = next((item.get("name") or item["id"] for item in organizations() if item["id"] == carried),
                   carried)
        print(f"{user}'s token still carries {now or 'no organization'}, not {name}.", file=sys.stderr)
        return 1
    elif args.command == "create-org":
        created = api(stack, client, user, "POST", "/me/organizations", {"name": args.name})
        print(f"Created {created.get('name') or args.name} ({created['id']}), with {user} as its "
              f"{created['role']}. Work in it: tenantry switch {created['id']}{as_user}")
    elif args.command == "leave":
        items = organizations()
        tenant = resolve(args.tenant, items, "id", "organizations")
        name = next((item.get("name") or tenant for item in items if item["id"] == tenant), tenant)
        api(stack, client, user, "DELETE", f"/me/organizations/{tenant}")
        print(f"{user} left {name} ({tenant}).")
    elif args.command == "invitations":
        items = pending()
        if not items:
            print(f"No invitations wait for {user}.")
            return 0
        table([[item.get("name") or "(unnamed)", item["role"],
                item["expires_at"] + (" (expired: ask for a new one)" if item["expired"] else ""),
                item["tenant_id"]] for item in items],
              ["NAME", "ROLE", "EXPIRES AT", "ID"])
    elif args.command in ("accept", "decline"):
        items = pending()
        if not matches(args.tenant, items, "tenant_id"):
            # Answered already, perhaps: an organization of the caller's goes to the API, which says so.
            joined = matches(args.tenant, organizations(), "id")
            if len(joined) == 1:
                items = [{"tenant_id": joined[0]["id"], "name": joined[0].get("name")}]
        tenant = resolve(args.tenant, items, "tenant_id", "invitations")
        name = next((item.get("name") or tenant for item in items if item["tenant_id"] == tenant), tenant)
        joined = api(stack, client, user, "POST", f"/me/invitations/{tenant}", {"accept": args.command == "accept"})
        if args.command == "decline":
            print(f"Declined the invitation to {name} ({tenant}).")
        else:
            print(f"{user} joined {joined.get('name') or name} ({tenant}) as {joined['role']}. "
                  f"Work in it: tenantry switch {tenant}{as_user}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
