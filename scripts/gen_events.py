#!/usr/bin/env python3
"""Writes the sample events in events/: API Gateway REST proxy events as a Cognito user pool
authorizer delivers them (claims as strings), for two tenants (a, b) and both roles, plus the
Cognito trigger events. Tests, `cargo lambda invoke --data-file` and `sam local invoke -e` use
them. Run it after adding a route; the output is committed."""

import hashlib
import hmac
import json
import pathlib
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent / "events"

REGION = "eu-west-1"
POOL = f"{REGION}_Tenantry1"
CLIENT = "5example0client0id0tenantry"
API = "a1b2c3d4e5"

TENANTS = {
    "a": {"id": "01JB8Z4K2M6Q9R3T5V7W9XAAAA", "tier": "basic", "name": "Acme Tea"},
    "b": {"id": "01JB8Z4K2M6Q9R3T5V7W9XBBBB", "tier": "standard", "name": "Bolt Coffee"},
}
USERS = {
    ("a", "admin"): ("0a000000-0000-4000-8000-00000000a0ad", "alice@acme.example"),
    ("a", "member"): ("0a000000-0000-4000-8000-00000000a0ae", "amir@acme.example"),
    ("b", "admin"): ("0b000000-0000-4000-8000-00000000b0ad", "bea@bolt.example"),
    ("b", "member"): ("0b000000-0000-4000-8000-00000000b0ae", "bo@bolt.example"),
}
PLATFORM_ADMIN = ("0c000000-0000-4000-8000-0000000000ad", "ops@tenantry.example")
# People in both sample organizations (see shared::testing::seed_people_in_two_organizations):
# one who chose b, one who chose b and was then removed from it.
IN_TWO = ("0a000000-0000-4000-8000-0000000000a5", "sam@acme.example")
CHOICE_GONE = ("0a000000-0000-4000-8000-0000000000a6", "gil@acme.example")
# Sample resource ids that belong to tenant a (and b); tests create real ones.
def sample_id(prefix, suffix):
    """A valid ULID (Crockford base32, 26 characters) that is easy to recognise."""
    return prefix + "0" * (26 - len(prefix) - len(suffix)) + suffix


IDS = {
    "productId": {"a": sample_id("01JB9A", "PA1"), "b": sample_id("01JB9A", "PB1")},
    "orderId": {"a": sample_id("01JB9B", "RA1"), "b": sample_id("01JB9B", "RB1")},
    "userId": {"a": USERS[("a", "member")][0], "b": USERS[("b", "member")][0]},
    "tenantId": {"a": TENANTS["a"]["id"], "b": TENANTS["b"]["id"]},
    "webhookId": {"a": sample_id("01JB9C", "WA1"), "b": sample_id("01JB9C", "WB1")},
    "clientId": {"a": "4a0example0client0tenanta", "b": "4b0example0client0tenantb"},
}

EPOCH = 1795681600  # 2026-11-26T08:26:40Z


def claims(sub, email, tenant=None, role=None, groups=None):
    c = {
        "sub": sub,
        "email_verified": "true",
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}",
        "cognito:username": sub,
        "origin_jti": str(uuid.uuid5(uuid.NAMESPACE_URL, sub + "origin")),
        "aud": CLIENT,
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, sub + "event")),
        "token_use": "id",
        "auth_time": str(EPOCH),
        "exp": "Thu Nov 26 09:26:40 UTC 2026",
        "iat": "Thu Nov 26 08:26:40 UTC 2026",
        "jti": str(uuid.uuid5(uuid.NAMESPACE_URL, sub + "jti")),
        "email": email,
    }
    if tenant:
        c["tenant_id"] = TENANTS[tenant]["id"]
        c["tenant_role"] = role
        c["tenant_tier"] = TENANTS[tenant]["tier"]
        # When the membership was granted as it is (ms): the sign-in time.
        c["tenant_grant"] = str(EPOCH * 1000)
    if groups:
        c["cognito:groups"] = ",".join(groups)
    return c


def rest_event(method, resource, tenant_key, path_values, body=None, query=None, auth=None):
    path = resource
    params = {}
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", value)
        params[name] = value
    headers = {
        "Accept": "application/json",
        "Authorization": "eyJraWQiOiJzYW1wbGUiLCJhbGciOiJSUzI1NiJ9.c2FtcGxl.c2lnbmF0dXJl",
        "Host": f"{API}.execute-api.{REGION}.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Amzn-Trace-Id": "Root=1-6745a1b0-0123456789abcdef01234567",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{method} {path} {tenant_key}"))
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "r3s0ur",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": "Bx1cXEXAMPLE=",
            "requestTime": "26/Nov/2026:08:30:00 +0000",
            "path": "/prod" + path,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": API,
            "requestTimeEpoch": EPOCH * 1000 + 200000,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": "203.0.113.10",
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": "curl/8.5.0",
                "user": None,
            },
            "domainName": f"{API}.execute-api.{REGION}.amazonaws.com",
            "apiId": API,
            "authorizer": {"claims": auth},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def write(path, event):
    target = ROOT / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(event, indent=2) + "\n")


# (function, file stem, method, resource, body, query)
TENANT_ROUTES = [
    ("products-api", "create-product", "POST", "/products",
     {"name": "Sencha", "description": "Green tea, 100 g", "sku": "TEA-SEN-100", "price": 1250, "currency": "EUR", "active": True}, None),
    ("products-api", "list-products", "GET", "/products", None, {"limit": "20"}),
    ("products-api", "get-product", "GET", "/products/{productId}", None, None),
    ("products-api", "replace-product", "PUT", "/products/{productId}",
     {"name": "Sencha", "description": "Green tea, 100 g", "sku": "TEA-SEN-100", "price": 1350, "currency": "EUR", "active": True, "version": 1}, None),
    ("products-api", "delete-product", "DELETE", "/products/{productId}", None, None),
    ("orders-api", "create-order", "POST", "/orders",
     {"lines": [{"product_id": "{productId}", "quantity": 2}]}, None),
    ("orders-api", "list-orders", "GET", "/orders", None, {"limit": "20"}),
    ("orders-api", "get-order", "GET", "/orders/{orderId}", None, None),
    ("orders-api", "change-order-status", "PATCH", "/orders/{orderId}", {"status": "paid", "version": 1}, None),
    ("users-api", "me", "GET", "/me", None, None),
    ("users-api", "my-organizations", "GET", "/me/organizations", None, None),
    ("users-api", "create-organization", "POST", "/me/organizations", {"name": "Second Shop"}, None),
    ("users-api", "leave-organization", "DELETE", "/me/organizations/{tenantId}", None, None),
    ("users-api", "switch-organization", "PUT", "/me/active-organization", {"tenant_id": "{tenantId}"}, None),
    ("users-api", "my-invitations", "GET", "/me/invitations", None, None),
    ("users-api", "answer-invitation", "POST", "/me/invitations/{tenantId}", {"accept": True}, None),
    ("users-api", "list-users", "GET", "/users", None, {"limit": "20"}),
    ("users-api", "get-user", "GET", "/users/{userId}", None, None),
    ("users-api", "invite-user", "POST", "/users", {"email": "new.colleague@example.com", "role": "member"}, None),
    ("users-api", "change-user-role", "PATCH", "/users/{userId}", {"role": "admin"}, None),
    ("users-api", "remove-user", "DELETE", "/users/{userId}", None, None),
    ("tenants-api", "get-tenant", "GET", "/tenant", None, None),
    ("tenants-api", "update-tenant", "PATCH", "/tenant",
     {"name": "Acme Tea Ltd", "settings": {"display_name": "Acme", "primary_color": "#0A7E5C", "locale": "en-GB",
                                           "time_zone": "Europe/London", "feature_flags": {"beta_reports": True}},
      "version": 1}, None),
    ("tenants-api", "delete-tenant", "DELETE", "/tenant", None, None),
    ("billing-api", "get-billing", "GET", "/billing", None, None),
    ("billing-api", "checkout", "POST", "/billing/checkout", {"plan": "standard", "interval": "month"}, None),
    ("billing-api", "portal", "POST", "/billing/portal", None, None),
    ("webhooks-api", "create-webhook", "POST", "/webhooks",
     {"url": "https://erp.example.com/tenantry/events", "events": ["order.created", "order.status_changed"],
      "description": "ERP order import"}, None),
    ("webhooks-api", "list-webhooks", "GET", "/webhooks", None, None),
    ("webhooks-api", "get-webhook", "GET", "/webhooks/{webhookId}", None, None),
    ("webhooks-api", "update-webhook", "PATCH", "/webhooks/{webhookId}", {"enabled": True}, None),
    ("webhooks-api", "delete-webhook", "DELETE", "/webhooks/{webhookId}", None, None),
    ("webhooks-api", "rotate-webhook-secret", "POST", "/webhooks/{webhookId}/rotate-secret", None, None),
    ("webhooks-api", "test-webhook", "POST", "/webhooks/{webhookId}/test", None, None),
    ("webhooks-api", "webhook-deliveries", "GET", "/webhooks/{webhookId}/deliveries", None, {"limit": "20"}),
    ("api-clients", "create-api-client", "POST", "/api-clients",
     {"name": "ERP order import", "scopes": ["orders.read", "products.read"]}, None),
    ("api-clients", "list-api-clients", "GET", "/api-clients", None, None),
    ("api-clients", "get-api-client", "GET", "/api-clients/{clientId}", None, None),
    ("api-clients", "delete-api-client", "DELETE", "/api-clients/{clientId}", None, None),
    ("admin-api", "list-tenants", "GET", "/admin/tenants", None, {"limit": "20"}),
    ("admin-api", "get-tenant", "GET", "/admin/tenants/{tenantId}", None, None),
    ("admin-api", "update-tenant", "PATCH", "/admin/tenants/{tenantId}", {"status": "suspended"}, None),
    ("admin-api", "dispatch-job", "POST", "/admin/tenants/{tenantId}/jobs", {"kind": "offboard"}, None),
]

# Events of a platform operator (group platform-admin, no tenant).
PLATFORM_ROUTES = [route for route in TENANT_ROUTES if route[0] in ("admin-api",) or route[3].startswith("/me")]


def substitute(value, tenant):
    text = json.dumps(value)
    for name, ids in IDS.items():
        text = text.replace("{" + name + "}", ids[tenant])
    return json.loads(text)


NEW_USER = ("0d000000-0000-4000-8000-0000000000d1", "dana@delta.example")


def caller(client=CLIENT, emulator=False):
    if emulator:
        return {"awsSdkVersion": "2.1693.0", "clientId": client}
    return {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client}


def trigger(source, user, request, response, version="1", emulator=False):
    return {
        "version": "0" if emulator else version,
        "region": "local" if emulator else REGION,
        "userPoolId": POOL,
        "userName": user,
        "callerContext": caller(emulator=emulator),
        "triggerSource": source,
        "request": request,
        "response": response,
    }


def trigger_events():
    sub, email = NEW_USER
    signup_attributes = {"custom:tenant_name": "Delta Tea Co.", "custom:plan": "basic", "email": email}
    no_flags = {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
    write("pre-sign-up/sign-up.json", trigger(
        "PreSignUp_SignUp", sub, {"userAttributes": signup_attributes, "validationData": None}, no_flags))
    write("pre-sign-up/sign-up.emulator.json", trigger(
        "PreSignUp_SignUp", sub, {"userAttributes": {"sub": sub, **signup_attributes}}, no_flags, emulator=True))
    write("pre-sign-up/admin-create-user.json", trigger(
        "PreSignUp_AdminCreateUser", "0d000000-0000-4000-8000-0000000000d2",
        {"userAttributes": {"email": "erin@acme.example", "email_verified": "true"}, "validationData": None}, no_flags))

    confirmed = {"sub": sub, "email_verified": "true", "cognito:user_status": "CONFIRMED",
                 "cognito:email_alias": email, **signup_attributes}
    write("post-confirmation/confirm-sign-up.json", trigger(
        "PostConfirmation_ConfirmSignUp", sub, {"userAttributes": confirmed}, {}))
    emulator_confirmed = {"cognito:user_status": "CONFIRMED", **signup_attributes, "sub": sub}
    write("post-confirmation/confirm-sign-up.emulator.json", trigger(
        "PostConfirmation_ConfirmSignUp", sub, {"userAttributes": emulator_confirmed}, {}, emulator=True))
    write("post-confirmation/confirm-forgot-password.json", trigger(
        "PostConfirmation_ConfirmForgotPassword", sub, {"userAttributes": confirmed}, {}))

    no_message = {"smsMessage": None, "emailMessage": None, "emailSubject": None}
    invited_sub, invited_email = "0d000000-0000-4000-8000-0000000000d2", "erin@acme.example"
    write("custom-message/admin-create-user.json", trigger(
        "CustomMessage_AdminCreateUser", invited_sub,
        {"userAttributes": {"sub": invited_sub, "email": invited_email, "email_verified": "true",
                            "cognito:user_status": "FORCE_CHANGE_PASSWORD"},
         "codeParameter": "{####}", "usernameParameter": "{username}",
         "clientMetadata": {"organization": TENANTS["a"]["name"], "inviter": USERS[("a", "admin")][1]}},
        no_message))
    write("custom-message/sign-up.json", trigger(
        "CustomMessage_SignUp", sub,
        {"userAttributes": {"sub": sub, **signup_attributes, "cognito:user_status": "UNCONFIRMED"},
         "codeParameter": "{####}", "usernameParameter": None, "clientMetadata": None},
        no_message))

    # The hourly schedule of billing-sweep (EventBridge's Scheduled Event).
    write("billing-sweep/scheduled.json", {
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-12-05T10:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/tenantry-BillingSweepFunctionHourly"],
        "detail": {}})

    admin_sub, admin_email = USERS[("a", "admin")]
    attributes = {"sub": admin_sub, "cognito:email_alias": admin_email, "cognito:user_status": "CONFIRMED",
                  "email_verified": "true", "email": admin_email, "custom:tenant_name": TENANTS["a"]["name"]}
    groups = {"groupsToOverride": ["beta-testers"], "iamRolesToOverride": [], "preferredRole": None}
    write("pre-token-generation/v1-authentication.json", trigger(
        "TokenGeneration_Authentication", admin_sub,
        {"userAttributes": attributes, "groupConfiguration": groups}, {"claimsOverrideDetails": None}))
    write("pre-token-generation/v1-new-user.json", trigger(
        "TokenGeneration_Authentication", sub,
        {"userAttributes": {**confirmed}, "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": None}},
        {"claimsOverrideDetails": None}))
    ops_sub, ops_email = PLATFORM_ADMIN
    write("pre-token-generation/v1-operator.json", trigger(
        "TokenGeneration_Authentication", ops_sub,
        {"userAttributes": {"sub": ops_sub, "email": ops_email, "email_verified": "true",
                            "cognito:user_status": "CONFIRMED"},
         "groupConfiguration": {"groupsToOverride": ["platform-admin"], "iamRolesToOverride": [], "preferredRole": None}},
        {"claimsOverrideDetails": None}))
    write("pre-token-generation/v2-authentication.json", trigger(
        "TokenGeneration_Authentication", admin_sub,
        {"userAttributes": attributes, "groupConfiguration": groups, "scopes": ["openid", "email", "aws.cognito.signin.user.admin"]},
        {"claimsAndScopeOverrideDetails": None}, version="2"))
    write("pre-token-generation/v3-refresh.json", trigger(
        "TokenGeneration_RefreshTokens", admin_sub,
        {"userAttributes": attributes, "groupConfiguration": groups, "scopes": ["aws.cognito.signin.user.admin"]},
        {"claimsAndScopeOverrideDetails": None}, version="3"))
    for (stem, (person_sub, person_email), version, source) in [
        ("v3-refresh.several-organizations", IN_TWO, "3", "TokenGeneration_RefreshTokens"),
        ("v2-authentication.chosen-organization-gone", CHOICE_GONE, "2", "TokenGeneration_Authentication"),
    ]:
        person = {"sub": person_sub, "cognito:email_alias": person_email, "cognito:user_status": "CONFIRMED",
                  "email_verified": "true", "email": person_email}
        write(f"pre-token-generation/{stem}.json", trigger(
            source, person_sub,
            {"userAttributes": person, "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": None},
             "scopes": ["aws.cognito.signin.user.admin"]},
            {"claimsAndScopeOverrideDetails": None}, version=version))
    write("pre-token-generation/v3-client-credentials.json", trigger(
        "TokenGeneration_ClientCredentials", CLIENT,
        {"userAttributes": {}, "groupConfiguration": None, "scopes": ["tenantry/products.read", "tenantry/orders.write"]},
        {"claimsAndScopeOverrideDetails": None}, version="3"))
    write("pre-token-generation/emulator.json", trigger(
        "TokenGeneration_Authentication", admin_sub,
        {"userAttributes": {"sub": admin_sub, "email": admin_email, "custom:tenant_name": TENANTS["a"]["name"]},
         "groupConfiguration": {}}, {"claimsOverrideDetails": {}}, emulator=True))


def job_events():
    """Asynchronous invocations of tenant-jobs, as the other functions dispatch them."""
    tenant = TENANTS["a"]["id"]
    write("tenant-jobs/provision.json", {"job": "provision", "tenant_id": tenant})
    write("tenant-jobs/migrate-to-premium.json", {"job": "migrate", "tenant_id": tenant, "to_tier": "premium"})
    write("tenant-jobs/offboard.json", {"job": "offboard", "tenant_id": tenant})


def webhook_event():
    """The payment provider's call: no token, no authorizer; the body and its signature are the
    provider's (this one is signed with the sample secret `whsec_sample`, long expired)."""
    body = json.dumps({"id": "evt_sample", "object": "event", "type": "checkout.session.completed",
                       "created": EPOCH,
                       "data": {"object": {"id": "cs_sample", "object": "checkout.session",
                                           "mode": "subscription", "payment_status": "paid",
                                           "customer": "cus_sample", "subscription": "sub_sample",
                                           "metadata": {"tenant_id": TENANTS["a"]["id"], "plan": "standard"}}}})
    signature = hmac.new(b"whsec_sample", f"{EPOCH}.{body}".encode(), hashlib.sha256).hexdigest()
    event = rest_event("POST", "/billing/webhook", "webhook", {}, auth=None)
    event["body"] = body
    event["requestContext"].pop("authorizer")
    for name, value in (("Authorization", None), ("Content-Type", "application/json; charset=utf-8"),
                        ("Stripe-Signature", f"t={EPOCH},v1={signature}"), ("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")):
        if value is None:
            event["headers"].pop(name, None)
        else:
            event["headers"][name] = value
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    write("billing-api/webhook.json", event)


def document_event():
    """Anyone's request for the API's document: no token, no authorizer."""
    event = rest_event("GET", "/openapi.json", "anyone", {}, auth=None)
    event["requestContext"].pop("authorizer")
    event["headers"].pop("Authorization", None)
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    write("api-docs/get-openapi.json", event)


def stream_events():
    """A batch of the pooled table's change stream (a product created, then its price changed),
    as Lambda gives it to webhook-events; and webhook-deliver's two ways of being woken."""
    tenant = TENANTS["a"]["id"]
    product = IDS["productId"]["a"]

    def image(price, version):
        return {
            "pk": {"S": f"{tenant}#PRODUCT#1"}, "sk": {"S": product}, "entity": {"S": "product"},
            "tenant_id": {"S": tenant}, "id": {"S": product}, "name": {"S": "Sencha"},
            "description": {"S": "Green tea, 100 g"}, "sku": {"S": "TEA-SEN-100"}, "price": {"N": str(price)},
            "currency": {"S": "EUR"}, "active": {"BOOL": True}, "version": {"N": str(version)},
            "created_at": {"S": "2026-12-05T10:00:00Z"}, "updated_at": {"S": "2026-12-05T10:0%d:00Z" % version},
        }

    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/tenantry-data/stream/2026-12-05T00:00:00.000"
    records = []
    for n, (name, old, new) in enumerate([("INSERT", None, image(1250, 1)), ("MODIFY", image(1250, 1), image(1350, 2))]):
        change = {"ApproximateCreationDateTime": EPOCH + 60 * n,
                  "Keys": {"pk": new["pk"], "sk": new["sk"]}, "NewImage": new,
                  "SequenceNumber": str(111000000000000000001 + n), "SizeBytes": 420,
                  "StreamViewType": "NEW_AND_OLD_IMAGES"}
        if old:
            change["OldImage"] = old
        records.append({"eventID": f"c4ca4238a0b923820dcc509a6f75849{n}", "eventName": name, "eventVersion": "1.1",
                        "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1", "dynamodb": change,
                        "eventSourceARN": arn})
    write("webhook-events/product-created-then-updated.json", {"Records": records})
    write("webhook-deliver/kick.json", {"endpoints": [{"tenant_id": tenant, "webhook_id": IDS["webhookId"]["a"]}]})
    write("webhook-deliver/scheduled.json", {
        "version": "0", "id": "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-12-05T10:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/tenantry-WebhookDeliverFunctionEveryMinute"],
        "detail": {}})


def main():
    stream_events()
    trigger_events()
    job_events()
    webhook_event()
    document_event()
    for function, stem, method, resource, body, query in TENANT_ROUTES:
        for tenant in ("a", "b"):
            for role in ("admin", "member"):
                sub, email = USERS[(tenant, role)]
                values = {name: ids[tenant] for name, ids in IDS.items() if "{" + name + "}" in resource}
                event = rest_event(
                    method, resource, f"{tenant}-{role}", values,
                    body=substitute(body, tenant) if body is not None else None,
                    query=query, auth=claims(sub, email, tenant, role),
                )
                write(f"{function}/{stem}.{tenant}-{role}.json", event)
    for function, stem, method, resource, body, query in PLATFORM_ROUTES:
        sub, email = PLATFORM_ADMIN
        values = {name: ids["a"] for name, ids in IDS.items() if "{" + name + "}" in resource}
        event = rest_event(method, resource, "platform", values,
                           body=substitute(body, "a") if body is not None else None, query=query,
                           auth=claims(sub, email, groups=["platform-admin"]))
        write(f"{function}/{stem}.platform.json", event)


if __name__ == "__main__":
    main()
