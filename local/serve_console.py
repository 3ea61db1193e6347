#!/usr/bin/env python3
"""Serves the web console (console/dist, built by Vite) on 127.0.0.1, as CloudFront serves it when
deployed: the same security headers (a strict Content-Security-Policy), any unknown path answered
with index.html (the console's own routes), `/config.json` written from the running stack, and
the API under `/api/` on the same origin. Cognito's JSON API is passed through at `/cognito/`
(deployed, the console calls Cognito's regional endpoint, which the policy names).

Files are read at each request, so a rebuild (`vite build --watch`, which `make dev` runs) shows
at the next page load.

    serve_console.py --port 5173 --api-url http://127.0.0.1:3000 --cognito-url http://127.0.0.1:9229 \
        --user-pool-id ... --client-id ... [--docs-url ...]
"""

import argparse
import http.client
import http.server
import json
import pathlib
import sys
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIST = ROOT / "console" / "dist"

# What the template's response headers policy sets (template.yaml, ConsoleHeadersPolicy); the
# deployed policy names Cognito's regional endpoint in connect-src instead of this origin's /cognito/.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
         ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    settings = None  # set in main()

    # ---------------------------------------------------------------- the API and Cognito

    def proxy(self, base, path):
        target = urllib.parse.urlsplit(base)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        try:
            connection.request(self.command, target.path.rstrip("/") + path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except OSError as err:
            self.send_plain(502, f"the local service at {base} did not answer: {err}\n")
            return
        finally:
            connection.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and not name.lower().startswith("access-control-"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        path = self.path
        if path == "/api" or path.startswith("/api/") or path.startswith("/api?"):
            self.proxy(self.settings.api_url, path[len("/api"):] or "/")
            return True
        if path.split("?", 1)[0] == "/cognito/":
            self.proxy(self.settings.cognito_url, "/")
            return True
        return False

    def do_POST(self):  # noqa: N802 (the standard library's names)
        if not self.route():
            self.send_plain(405, "the console's files are read-only\n")

    do_PUT = do_PATCH = do_DELETE = do_POST

    # ---------------------------------------------------------------- the console's files

    def do_GET(self):  # noqa: N802
        if self.route():
            return
        path = urllib.parse.unquote(self.path.split("?", 1)[0].split("#", 1)[0])
        if path == "/config.json":
            self.send_body(200, json.dumps(self.settings.config).encode(), "application/json", "no-store")
            return
        file = (DIST / path.lstrip("/")).resolve()
        if path.startswith("/assets/"):
            if DIST / "assets" in file.parents and file.is_file():
                # Hashed names: a file under /assets/ never changes.
                self.send_body(200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"),
                               "public, max-age=31536000, immutable")
            else:
                self.send_plain(404, "no such file\n")
            return
        if path != "/" and DIST in file.parents and file.is_file():
            self.send_body(200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"), "no-cache")
            return
        index = DIST / "index.html"
        if not index.is_file():
            self.send_plain(503, "the console is not built yet (npm run console:build); reload in a moment\n")
            return
        # Any other path is one of the console's own pages.
        self.send_body(200, index.read_bytes(), TYPES[".html"], "no-cache")

    do_HEAD = do_GET

    # ---------------------------------------------------------------- answers

    def send_body(self, status, body, content_type, cache):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_plain(self, status, text):
        self.send_body(status, text.encode(), TYPES[".txt"], "no-store")

    def log_message(self, format, *args):  # noqa: A002 (the standard library's name)
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5173, help="0 picks a free port")
    parser.add_argument("--api-url", required=True, help="the API (the local gateway)")
    parser.add_argument("--cognito-url", required=True, help="Cognito's JSON API (cognito-local)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--user-pool-id", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--docs-url", help="the API reference page, if one is served")
    args = parser.parse_args()
    # cognito-local has no SRP: the local console signs in with the password flow, which the
    # local and dev app clients allow (the production one does not).
    args.config = {"apiUrl": "/api", "cognitoEndpoint": "/cognito/", "region": args.region,
                   "userPoolId": args.user_pool_id, "clientId": args.client_id,
                   "signInFlow": "USER_PASSWORD_AUTH"}
    if args.docs_url:
        args.config["docsUrl"] = args.docs_url
    Handler.settings = args
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"The console: http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
