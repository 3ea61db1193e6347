"""A stand-in for the few Stripe API calls Tenantry makes, for the local stack (no Stripe account,
no network): customers, prices looked up by key, Checkout Sessions of subscriptions (created,
listed, expired), customer-portal sessions, and subscriptions (read, cancelled), answered in
Stripe's shapes; a checkout page whose "Pay" button (or `POST /checkout/<id>/pay`) starts the
subscription, and test routes that fail a payment, cancel a subscription, switch its plan as the
customer portal does (the price changes, the metadata stays), or pay a page that was expired
meanwhile (a payment Stripe completed just before the expiry). Each of those sends the webhook events Stripe would, signed with the endpoint's
secret exactly as Stripe signs them (`Stripe-Signature: t=...,v1=HMAC-SHA256(secret, "t.body")`),
to the API's `/billing/webhook`, retrying a failed delivery a few times: at once for the
customer's steps (the step answers once its events are delivered), in the background for API
calls (the service's own request must not wait for its webhook).

It keeps everything in memory and does not do: payment methods, taxes, coupons, proration,
trials, Stripe's retry schedule of failed invoices, or anything of its API not listed here.

    python local/stripe_standin.py --port 12111 --webhook-url http://127.0.0.1:3000/billing/webhook \
        --api-key sk_test_local --webhook-secret whsec_local
"""

import argparse
import hashlib
import hmac
import html
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLANS = {"standard": {"month": 2900, "year": 29000}, "premium": {"month": 9900, "year": 99000}}
PERIOD = {"month": 30 * 86400, "year": 365 * 86400}


class Standin:
    def __init__(self, base_url, webhook_url, api_key, webhook_secret):
        self.base_url = base_url
        self.webhook_url = webhook_url
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.customers = {}
        self.idempotent = {}
        self.sessions = {}
        self.subscriptions = {}
        self.prices = {}
        for plan, amounts in PLANS.items():
            for interval, amount in amounts.items():
                key = f"{plan}_{interval}"
                self.prices[key] = {"id": f"price_{key}", "object": "price", "active": True, "currency": "eur",
                                    "lookup_key": key, "unit_amount": amount, "type": "recurring",
                                    "recurring": {"interval": interval, "interval_count": 1}}

    def new_id(self, prefix):
        return f"{prefix}_{secrets.token_hex(6)}{next(self.ids)}"

    # ------------------------------------------------------------ API
    def create_customer(self, form, idempotency_key):
        with self.lock:
            if idempotency_key and idempotency_key in self.idempotent:
                return self.idempotent[idempotency_key]
            customer = {"id": self.new_id("cus"), "object": "customer", "email": form.get("email"),
                        "name": form.get("name"), "metadata": metadata(form, "metadata"),
                        "created": int(time.time())}
            self.customers[customer["id"]] = customer
            if idempotency_key:
                self.idempotent[idempotency_key] = customer
            return customer

    def create_session(self, form):
        customer = form.get("customer")
        price = next((p for p in self.prices.values() if p["id"] == form.get("line_items[0][price]")), None)
        if customer not in self.customers:
            raise ApiError(400, f"No such customer: '{customer}'")
        if price is None or form.get("mode") != "subscription":
            raise ApiError(400, "A subscription Checkout Session needs a recurring price.")
        session_id = self.new_id("cs_test")
        session = {"id": session_id, "object": "checkout.session", "mode": "subscription", "status": "open",
                   "payment_status": "unpaid", "customer": customer, "subscription": None,
                   "client_reference_id": form.get("client_reference_id"),
                   "metadata": metadata(form, "metadata"), "success_url": form.get("success_url"),
                   "cancel_url": form.get("cancel_url"), "url": f"{self.base_url}/checkout/{session_id}",
                   "created": int(time.time()), "_price": price,
                   "_subscription_metadata": metadata(form, "subscription_data[metadata]")}
        with self.lock:
            self.sessions[session_id] = session
        return public(session)

    def list_sessions(self, query):
        customer = (query.get("customer") or [None])[0]
        status = (query.get("status") or [None])[0]
        with self.lock:
            found = [public(s) for s in self.sessions.values()
                     if (customer is None or s["customer"] == customer) and (status is None or s["status"] == status)]
        return {"object": "list", "data": found, "has_more": False, "url": "/v1/checkout/sessions"}

    def expire_session(self, session_id):
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise ApiError(404, f"No such checkout.session: '{session_id}'")
            if session["status"] != "open":
                raise ApiError(400, f"Only Checkout Sessions with a status in [open] can be expired; "
                                    f"this one is {session['status']}.")
            session.update(status="expired")
            return public(session)

    def subscription(self, subscription_id):
        found = self.subscriptions.get(subscription_id)
        if found is None:
            raise ApiError(404, f"No such subscription: '{subscription_id}'")
        return public(found)

    def cancel_subscription(self, subscription_id, query):
        with self.lock:
            found = self.subscriptions.get(subscription_id)
            if found is None:
                raise ApiError(404, f"No such subscription: '{subscription_id}'")
            if found["status"] == "canceled":
                raise ApiError(400, f"The subscription {subscription_id} is already canceled.")
            now = int(time.time())
            found.update(status="canceled", ended_at=now, canceled_at=now,
                         _cancellation={"invoice_now": (query.get("invoice_now") or ["false"])[0],
                                        "prorate": (query.get("prorate") or ["true"])[0]})
        # Stripe answers the API call first and sends the event later: the caller may be the
        # very function that receives it.
        self.send_later("customer.subscription.deleted", public(found))
        return public(found)

    def change_plan(self, customer, form):
        """What the customer portal does when the customer switches plan: the subscription's
        price changes; its metadata stays as checkout wrote it."""
        key = f"{form.get('plan')}_{form.get('interval', 'month')}"
        if key not in self.prices:
            raise ApiError(400, f"No price {key}.")
        subscription = self.live_subscription(customer)
        with self.lock:
            subscription["items"]["data"][0]["price"] = self.prices[key]
        self.send("customer.subscription.updated", public(subscription))
        return public(subscription)

    def subscriptions_of(self, customer):
        return [{**public(s), "cancellation": s.get("_cancellation")}
                for s in self.subscriptions.values() if s["customer"] == customer]

    def portal(self, form):
        customer = form.get("customer")
        if customer not in self.customers:
            raise ApiError(400, f"No such customer: '{customer}'")
        return {"id": self.new_id("bps"), "object": "billing_portal.session", "customer": customer,
                "return_url": form.get("return_url"), "url": f"{self.base_url}/portal/{customer}"}

    # ------------------------------------------------------------ what a customer does
    def pay(self, session_id, even_expired=False):
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise ApiError(404, "No such checkout session.")
            if session["status"] == "expired" and not even_expired:
                raise ApiError(400, "This Checkout Session is no longer active: it has expired.")
            if session["status"] not in ("open", "expired"):
                return session
            now = int(time.time())
            price = session["_price"]
            subscription = {"id": self.new_id("sub"), "object": "subscription", "status": "active",
                            "customer": session["customer"], "metadata": session["_subscription_metadata"],
                            "created": now, "current_period_start": now,
                            "current_period_end": now + PERIOD[price["recurring"]["interval"]],
                            "items": {"object": "list", "data": [{"id": self.new_id("si"), "price": price,
                                                                   "current_period_end": now + PERIOD[price["recurring"]["interval"]]}]}}
            self.subscriptions[subscription["id"]] = subscription
            session.update(status="complete", payment_status="paid", subscription=subscription["id"],
                           customer_details={"email": self.customers[session["customer"]].get("email")})
        self.send("customer.subscription.created", subscription)
        self.send("checkout.session.completed", public(session))
        self.send("invoice.paid", self.invoice(subscription, paid=True))
        return session

    def fail_payment(self, customer):
        subscription = self.live_subscription(customer)
        subscription["status"] = "past_due"
        self.send("invoice.payment_failed", self.invoice(subscription, paid=False))
        self.send("customer.subscription.updated", subscription)
        return subscription

    def pay_again(self, customer):
        subscription = self.live_subscription(customer)
        subscription["status"] = "active"
        self.send("invoice.paid", self.invoice(subscription, paid=True))
        self.send("customer.subscription.updated", subscription)
        return subscription

    def cancel(self, customer):
        subscription = self.live_subscription(customer)
        subscription.update(status="canceled", ended_at=int(time.time()), canceled_at=int(time.time()))
        self.send("customer.subscription.deleted", subscription)
        return subscription

    def live_subscription(self, customer):
        found = [s for s in self.subscriptions.values() if s["customer"] == customer and s["status"] != "canceled"]
        if not found:
            raise ApiError(404, f"{customer} has no live subscription.")
        return found[-1]

    def customer_by_email(self, email):
        found = [c for c in self.customers.values() if (c.get("email") or "").lower() == email.lower()]
        if not found:
            raise ApiError(404, f"No customer with the address {email}.")
        return found[-1]["id"]

    def invoice(self, subscription, paid):
        price = subscription["items"]["data"][0]["price"]
        invoice_id = self.new_id("in")
        return {"id": invoice_id, "object": "invoice", "customer": subscription["customer"],
                "customer_email": self.customers[subscription["customer"]].get("email"),
                "status": "paid" if paid else "open", "currency": price["currency"],
                "amount_due": price["unit_amount"], "amount_paid": price["unit_amount"] if paid else 0,
                "hosted_invoice_url": f"{self.base_url}/invoices/{invoice_id}",
                "period_end": subscription["current_period_end"],
                "lines": {"object": "list", "data": [{"period": {"start": subscription["current_period_start"],
                                                                 "end": subscription["current_period_end"]}}]},
                "parent": {"type": "subscription_details",
                           "subscription_details": {"subscription": subscription["id"],
                                                    "metadata": subscription["metadata"]}}}

    # ------------------------------------------------------------ webhooks
    def send_later(self, kind, obj):
        threading.Thread(target=self.send, args=(kind, obj), daemon=True).start()

    def send(self, kind, obj):
        event = {"id": self.new_id("evt"), "object": "event", "type": kind, "api_version": "2025-03-31.basil",
                 "created": int(time.time()), "livemode": False, "data": {"object": obj}}
        body = json.dumps(event).encode()
        for attempt in range(5):
            stamp = int(time.time())
            signature = hmac.new(self.webhook_secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(self.webhook_url, data=body, method="POST", headers={
                "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": f"t={stamp},v1={signature}",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    print(f"webhook {kind} {event['id']}: {response.status}", flush=True)
                    return
            except (urllib.error.URLError, OSError) as err:
                print(f"webhook {kind} {event['id']}: attempt {attempt + 1} failed: {err}", flush=True)
                time.sleep(0.5 * (attempt + 1))


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def metadata(form, prefix):
    start = f"{prefix}["
    return {key[len(start):-1]: value for key, value in form.items() if key.startswith(start) and key.endswith("]")}


def public(obj):
    return {key: value for key, value in obj.items() if not key.startswith("_")}


def page(title, body):
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<body style='font-family:sans-serif;max-width:32rem;margin:3rem auto'>"
            f"<p><small>Stripe stand-in (local stack)</small></p>{body}</body></html>").encode()


def handler_for(standin):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            print(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)

        def send_json(self, status, value):
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def send_page(self, status, body, location=None):
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def form(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))

        def authorized(self):
            if self.headers.get("Authorization") == f"Bearer {standin.api_key}":
                return True
            self.send_json(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}})
            return False

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            try:
                if url.path == "/v1/prices":
                    if not self.authorized():
                        return
                    query = urllib.parse.parse_qs(url.query)
                    keys = query.get("lookup_keys[]", [])
                    data = [standin.prices[key] for key in keys if key in standin.prices]
                    self.send_json(200, {"object": "list", "data": data, "has_more": False, "url": "/v1/prices"})
                elif len(parts) == 2 and parts[0] == "checkout":
                    session = standin.sessions.get(parts[1])
                    if session is None:
                        raise ApiError(404, "No such checkout session.")
                    price = session["_price"]
                    amount = f"{price['unit_amount'] / 100:.2f} {price['currency'].upper()} / {price['recurring']['interval']}"
                    state = ("<p>This page has expired.</p>" if session["status"] == "expired" else
                             "<p>Paid.</p>" if session["status"] != "open" else
                             f"<form method=post action='/checkout/{session['id']}/pay'>"
                             f"<button type=submit>Pay {html.escape(amount)}</button></form>")
                    self.send_page(200, page("Checkout", f"<h1>{html.escape(price['lookup_key'])}</h1>{state}"))
                elif len(parts) == 2 and parts[0] == "portal":
                    customer = html.escape(parts[1])
                    switch = "".join(
                        f"<form method=post action='/test/customers/{customer}/change-plan'>"
                        f"<input type=hidden name=plan value={plan}><input type=hidden name=interval value=month>"
                        f"<button type=submit>Switch to {plan}</button></form>" for plan in PLANS)
                    self.send_page(200, page("Billing portal", f"<h1>Customer {customer}</h1>{switch}"
                                             f"<form method=post action='/test/customers/{customer}/cancel'>"
                                             f"<button type=submit>Cancel the subscription</button></form>"))
                elif url.path in ("/", "/health"):
                    self.send_json(200, {"ok": True})
                elif len(parts) == 3 and parts[:2] == ["v1", "subscriptions"]:
                    if self.authorized():
                        self.send_json(200, standin.subscription(parts[2]))
                elif url.path == "/v1/checkout/sessions":
                    if self.authorized():
                        self.send_json(200, standin.list_sessions(urllib.parse.parse_qs(url.query)))
                elif len(parts) == 4 and parts[0] == "test" and parts[1] in ("customers", "emails") \
                        and parts[3] == "subscriptions":
                    customer = parts[2] if parts[1] == "customers" else standin.customer_by_email(
                        urllib.parse.unquote(parts[2]))
                    self.send_json(200, {"data": standin.subscriptions_of(customer)})
                else:
                    self.send_page(200, page("Tenantry", f"<p>{html.escape(url.path)}</p>"))
            except ApiError as err:
                self.send_json(err.status, {"error": {"type": "invalid_request_error", "message": err.message}})

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            form = self.form()
            try:
                if url.path == "/v1/customers":
                    if self.authorized():
                        self.send_json(200, standin.create_customer(form, self.headers.get("Idempotency-Key")))
                elif url.path == "/v1/checkout/sessions":
                    if self.authorized():
                        self.send_json(200, standin.create_session(form))
                elif url.path == "/v1/billing_portal/sessions":
                    if self.authorized():
                        self.send_json(200, standin.portal(form))
                elif len(parts) == 3 and parts[0] == "checkout" and parts[2] == "pay":
                    session = standin.pay(parts[1])
                    self.send_page(303, page("Paid", "<p>Paid.</p>"), location=session.get("success_url"))
                elif len(parts) == 5 and parts[:2] == ["v1", "checkout"] and parts[2] == "sessions" and parts[4] == "expire":
                    if self.authorized():
                        self.send_json(200, standin.expire_session(parts[3]))
                elif len(parts) == 4 and parts[:2] == ["test", "checkout"] and parts[3] == "pay-late":
                    self.send_json(200, public(standin.pay(parts[2], even_expired=True)))
                elif len(parts) == 4 and parts[0] == "test" and parts[1] in ("customers", "emails") \
                        and parts[3] == "change-plan":
                    customer = parts[2] if parts[1] == "customers" else standin.customer_by_email(
                        urllib.parse.unquote(parts[2]))
                    self.send_json(200, standin.change_plan(customer, form))
                elif len(parts) == 4 and parts[0] == "test" and parts[1] in ("customers", "emails"):
                    customer = parts[2] if parts[1] == "customers" else standin.customer_by_email(
                        urllib.parse.unquote(parts[2]))
                    action = {"fail": standin.fail_payment, "pay": standin.pay_again, "cancel": standin.cancel,
                              "checkout": None}.get(parts[3], "unknown")
                    if action == "unknown":
                        raise ApiError(404, f"No test action {parts[3]}.")
                    if action is None:
                        # Pays the customer's open checkout, as its "Pay" button does.
                        open_sessions = [s for s in standin.sessions.values()
                                         if s["customer"] == customer and s["status"] == "open"]
                        if not open_sessions:
                            raise ApiError(404, f"{customer} has no open checkout.")
                        self.send_json(200, public(standin.pay(open_sessions[-1]["id"])))
                    else:
                        self.send_json(200, action(customer))
                else:
                    raise ApiError(404, f"Unrecognized request URL (POST: {url.path}).")
            except ApiError as err:
                self.send_json(err.status, {"error": {"type": "invalid_request_error", "message": err.message}})

        def do_DELETE(self):
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            try:
                if len(parts) == 3 and parts[:2] == ["v1", "subscriptions"]:
                    if self.authorized():
                        self.send_json(200, standin.cancel_subscription(parts[2], urllib.parse.parse_qs(url.query)))
                else:
                    raise ApiError(404, f"Unrecognized request URL (DELETE: {url.path}).")
            except ApiError as err:
                self.send_json(err.status, {"error": {"type": "invalid_request_error", "message": err.message}})

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--webhook-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--webhook-secret", required=True)
    args = parser.parse_args()
    standin = Standin(f"http://127.0.0.1:{args.port}", args.webhook_url, args.api_key, args.webhook_secret)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(standin))
    print(f"Stripe stand-in on 127.0.0.1:{args.port}, webhooks to {args.webhook_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
