"""The console's local server (serve_console.py): what CloudFront does for the console when
deployed, played on 127.0.0.1. Run by `make test` with the stand-ins' other unit tests."""

import http.server
import json
import pathlib
import tempfile
import threading
import unittest
import urllib.error
import urllib.request
from types import SimpleNamespace

import serve_console


class Upstream(http.server.BaseHTTPRequestHandler):
    """Answers every request with what it received, as the gateway or Cognito would be reached."""

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path,
                           "authorization": self.headers.get("Authorization"),
                           "body": self.rfile.read(length).decode()}).encode()
        self.send_response(404 if self.path.endswith("/missing") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class ServeConsole(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dist = tempfile.TemporaryDirectory()
        root = pathlib.Path(cls.dist.name)
        (root / "assets").mkdir()
        (root / "index.html").write_text("<!doctype html><title>console</title>")
        (root / "assets" / "index-abc123.js").write_text("console.log(1)")
        cls.original_dist = serve_console.DIST
        serve_console.DIST = root.resolve()
        cls.upstream = serve(Upstream)
        upstream = f"http://127.0.0.1:{cls.upstream.server_address[1]}"
        serve_console.Handler.settings = SimpleNamespace(
            api_url=upstream, cognito_url=upstream,
            config={"apiUrl": "/api", "cognitoEndpoint": "/cognito/", "clientId": "client"})
        cls.server = serve(serve_console.Handler)
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        for server in (cls.server, cls.upstream):
            server.shutdown()
            server.server_close()
        serve_console.DIST = cls.original_dist
        cls.dist.cleanup()

    def get(self, path, method="GET", body=None, headers=None):
        request = urllib.request.Request(self.base + path, method=method, data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def test_the_consoles_routes_are_index_html_with_the_security_headers(self):
        for path in ("/", "/products", "/billing?checkout=done", "/users/anything"):
            status, headers, body = self.get(path)
            self.assertEqual(status, 200, path)
            self.assertIn(b"<title>console</title>", body)
            self.assertEqual(headers["Content-Security-Policy"], serve_console.CONTENT_SECURITY_POLICY)
            self.assertIn("script-src 'self';", headers["Content-Security-Policy"])
            self.assertEqual(headers["X-Frame-Options"], "DENY")
            self.assertEqual(headers["Cache-Control"], "no-cache")

    def test_assets_are_immutable_and_a_missing_one_is_not_the_page(self):
        status, headers, _ = self.get("/assets/index-abc123.js")
        self.assertEqual(status, 200)
        self.assertIn("immutable", headers["Cache-Control"])
        self.assertTrue(headers["Content-Type"].startswith("text/javascript"))
        # An older build's chunk: 404, so that the console reloads rather than run HTML as code.
        self.assertEqual(self.get("/assets/gone-999.js")[0], 404)
        self.assertEqual(self.get("/assets/../index.html")[0], 404)

    def test_the_configuration_is_the_stacks(self):
        status, headers, body = self.get("/config.json")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["apiUrl"], "/api")
        self.assertEqual(headers["Cache-Control"], "no-store")

    def test_the_api_is_reached_under_api_with_the_token_and_body_as_sent(self):
        status, headers, body = self.get("/api/products?limit=5", method="POST", body=b'{"name":"x"}',
                                         headers={"Authorization": "token", "Content-Type": "application/json"})
        self.assertEqual(status, 200)
        seen = json.loads(body)
        self.assertEqual(seen, {"method": "POST", "path": "/products?limit=5", "authorization": "token",
                                "body": '{"name":"x"}'})
        # Same origin: the upstream's CORS headers are not passed on.
        self.assertIsNone(headers.get("Access-Control-Allow-Origin"))
        self.assertEqual(self.get("/api/missing")[0], 404)

    def test_cognito_is_reached_at_cognito(self):
        status, _, body = self.get("/cognito/", method="POST", body=b"{}",
                                   headers={"Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["path"], "/")


if __name__ == "__main__":
    unittest.main()
