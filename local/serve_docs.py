#!/usr/bin/env python3
"""Serves the API's documentation page on 127.0.0.1: docs/api.html rendering docs/openapi.json
with Redoc (from node_modules). Only these files are served; nothing is fetched from elsewhere.

    serve_docs.py [--port 8088]      (make docs)
"""

import argparse
import http.server
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = {
    "/": (ROOT / "docs" / "api.html", "text/html; charset=utf-8"),
    "/api.css": (ROOT / "docs" / "api.css", "text/css; charset=utf-8"),
    "/api.js": (ROOT / "docs" / "api.js", "text/javascript; charset=utf-8"),
    "/openapi.json": (ROOT / "docs" / "openapi.json", "application/json"),
    "/redoc.standalone.js": (ROOT / "node_modules" / "redoc" / "bundles" / "redoc.standalone.js",
                             "text/javascript; charset=utf-8"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/index.html":
            path = "/"
        found = FILES.get(path)
        if found is None:
            self.send_error(404, "not one of the documentation's files")
            return
        file, content_type = found
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (the standard library's name)
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8088, help="0 picks a free port")
    args = parser.parse_args()
    missing = [str(file) for file, _ in FILES.values() if not file.exists()]
    if missing:
        sys.exit(f"error: missing {', '.join(missing)} (run scripts/bootstrap.sh for node_modules)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"The API reference: http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
