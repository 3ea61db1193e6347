"""The Lambda Invoke API as the functions of the local stack call it: in front of `cargo lambda
watch`, which runs every invocation before it answers, this answers an asynchronous invocation
(`X-Amz-Invocation-Type: Event`) with 202 at once and runs it in the background, as Lambda does;
a run that fails (a function error) is tried twice more, a second and then two seconds later
(Lambda waits a minute, then two). Every other request is passed through as it is.

Without it, a function that dispatches a job waits for the whole job (a storage migration: 20 s
and more), and a job that dispatches the next one to itself waits for itself forever.

    python local/async_invoke.py --port 9001 --lambda-endpoint http://127.0.0.1:9000
"""

import argparse
import http.client
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RETRY_DELAYS = (1.0, 2.0)


def forward(target, method, path, headers, body):
    """Sends one request to `target` (host, port); returns (status, headers, body)."""
    connection = http.client.HTTPConnection(*target, timeout=1800)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def failed(status, headers):
    return status >= 400 or any(name.lower() == "x-amz-function-error" for name, _ in headers)


def run_in_background(target, path, headers, body):
    """One asynchronous invocation, with Lambda's two retries of a failed run."""
    headers = {**headers, "X-Amz-Invocation-Type": "RequestResponse"}
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
        time.sleep(delay)
        try:
            status, response_headers, _ = forward(target, "POST", path, headers, body)
        except OSError as err:
            print(f"async {path}: attempt {attempt + 1} failed: {err}", flush=True)
            continue
        if not failed(status, response_headers):
            print(f"async {path}: done ({status})", flush=True)
            return
        print(f"async {path}: attempt {attempt + 1} failed ({status})", flush=True)
    print(f"async {path}: given up after {len(RETRY_DELAYS) + 1} attempts", flush=True)


def handler_for(target):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name: value for name, value in self.headers.items()
                       if name.lower() not in ("host", "connection", "content-length")}
            if (self.command == "POST" and self.path.endswith("/invocations")
                    and self.headers.get("X-Amz-Invocation-Type", "").lower() == "event"):
                threading.Thread(target=run_in_background, args=(target, self.path, headers, body),
                                 daemon=True).start()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                status, response_headers, response_body = forward(target, self.command, self.path, headers, body)
            except OSError as err:
                message = f"the functions cannot be reached: {err}".encode()
                self.send_response(502)
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)
                return
            self.send_response(status)
            for name, value in response_headers:
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response_body)))
            self.end_headers()
            self.wfile.write(response_body)

        do_GET = do_POST = do_PUT = do_DELETE = relay

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-endpoint", required=True)
    args = parser.parse_args()
    endpoint = urllib.parse.urlsplit(args.lambda_endpoint)
    target = (endpoint.hostname, endpoint.port or 80)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(target))
    server.daemon_threads = True
    print(f"Asynchronous Lambda invocations on 127.0.0.1:{args.port}, run by {args.lambda_endpoint}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
