#!/usr/bin/env python3
"""A webhook receiver for tests: an endpoint on 127.0.0.1 that checks each delivery's signature
as a customer's receiver would, with the Standard Webhooks library (`standardwebhooks` on PyPI:
the webhook-id, webhook-timestamp and webhook-signature headers, the timestamp within 5 minutes).

Each POST is verified with each secret given, in turn (several: a rotation). Verified, it is
appended to FILE as one JSON line, {"webhook_id", "webhook_timestamp", "signatures", "payload"},
and answered 204; else its reason and headers go to FILE.rejected, answered 400. Prints
"listening on 127.0.0.1:PORT" once ready; SIGTERM stops it.

With --redirect-to URL it plays an endpoint that moved: every verified delivery is recorded as
above but answered 307 with that Location (a sender must not follow it).

    webhook_receiver.py --port P --secret whsec_... [--secret whsec_...] --out FILE [--redirect-to URL]
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, secrets, out, redirect_to=None):
        self.webhooks = [Webhook(secret) for secret in secrets]
        self.out = out
        self.redirect_to = redirect_to
        self.lock = threading.Lock()

    def verify(self, body, headers):
        """The parsed payload, or WebhookVerificationError (the last secret's reason)."""
        error = WebhookVerificationError("no secret")
        for webhook in self.webhooks:
            try:
                return webhook.verify(body, headers)
            except WebhookVerificationError as err:
                error = err
        raise error

    def append(self, path, value):
        with self.lock, open(path, "a") as out:
            out.write(json.dumps(value) + "\n")
            out.flush()


def handler_for(receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def answer(self, status, location=None):
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            try:
                payload = receiver.verify(body, headers)
            except (WebhookVerificationError, ValueError) as err:
                receiver.append(f"{receiver.out}.rejected", {"rejected": str(err) or type(err).__name__,
                                                             "path": self.path, "headers": headers})
                self.answer(400)
                return
            lower = {name.lower(): value for name, value in headers.items()}
            receiver.append(receiver.out, {"webhook_id": lower.get("webhook-id"),
                                           "webhook_timestamp": lower.get("webhook-timestamp"),
                                           "signatures": lower.get("webhook-signature"), "payload": payload})
            if receiver.redirect_to:
                self.answer(307, receiver.redirect_to)
            else:
                self.answer(204)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", action="append", required=True, help="whsec_...; repeat for several")
    parser.add_argument("--out", required=True, help="verified deliveries, one JSON line each")
    parser.add_argument("--redirect-to", help="answer every delivery 307 with this Location")
    args = parser.parse_args()
    try:
        receiver = Receiver(args.secret, args.out, args.redirect_to)
    except (ValueError, RuntimeError, EmptyWebhookSecretError) as err:
        parser.error(f"--secret: not a webhook secret (whsec_ and base64): {err}")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(receiver))

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
