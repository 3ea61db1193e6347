#!/usr/bin/env python3
"""An EventBridge stand-in for the local stack: its PutEvents API (JSON 1.1, what the functions'
SDK calls), and the template's rules.

PutEvents is checked as EventBridge checks it: 1 to 10 entries and 256 KB in all (else the call
fails: 400 ValidationException); each entry needs Source, DetailType and Detail (else that entry
fails: InvalidArgument), and Detail must be a JSON object (else MalformedDetail). Each accepted
event is appended, as EventBridge delivers it plus the name of its bus ("event-bus-name"), as one
JSON line to the events file. Then each rule of that bus whose pattern matches it has it sent to
its functions, asynchronously (Lambda API, `X-Amz-Invocation-Type: Event`), one at a time, once: a
failed delivery is logged, not tried again.

Patterns: literal values (the event's value, or one element of it if it is an array, equals one
of them), nested objects, {"prefix": "..."} and {"exists": true|false} (a field absent, or whose
parent is, matches exists false). Anything else (anything-but, numeric, suffix, wildcard, $or
...) stops the stand-in at start: no rule silently matches otherwise. The stream poller filters
records with the same patterns (Lambda's FilterCriteria use EventBridge's syntax). Not
done: archives, replays, input transformers, schedules, retries, dead-letter queues, targets
other than functions.

A test control, `POST /test/refuse` with `{"containing": "text"}` (or `null` to stop), makes the
entries whose Detail contains the text fail as EventBridge's own failures do (an entry with an
ErrorCode, in a 200 answer).

    bus_standin.py --port 5012 --events-file DIR/bus.jsonl [--rules DIR/rules.json] \\
        [--lambda-endpoint http://127.0.0.1:9000]

The rules file (written by local_stack.py from template.yaml):
{"buses": ["name", ...], "rules": [{"name", "bus", "pattern", "functions": [binary, ...]}]}
"""

import argparse
import datetime
import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
# A delivery's first invocation may compile the function (`cargo lambda watch`).
DELIVERY_TIMEOUT = 900


class Rejected(Exception):
    """A call EventBridge refuses as a whole: a 400 with its error type."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class UnsupportedPattern(ValueError):
    pass


def log(message):
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


# ------------------------------------------------------------------ patterns

def check_pattern(pattern, path="pattern"):
    """Raises UnsupportedPattern unless the pattern uses only what `matches` implements."""
    if not isinstance(pattern, dict) or not pattern:
        raise UnsupportedPattern(f"{path}: a pattern is a non-empty JSON object")
    for key, value in pattern.items():
        where = f"{path}.{key}"
        if key.startswith("$"):
            raise UnsupportedPattern(f"{where}: {key} is not supported by the local stand-in")
        if isinstance(value, dict):
            check_pattern(value, where)
        elif isinstance(value, list):
            if not value:
                raise UnsupportedPattern(f"{where}: an empty list matches nothing")
            for matcher in value:
                if isinstance(matcher, list):
                    raise UnsupportedPattern(f"{where}: a list inside a list")
                prefix = isinstance(matcher, dict) and set(matcher) == {"prefix"} and isinstance(matcher["prefix"], str)
                exists = isinstance(matcher, dict) and set(matcher) == {"exists"} and isinstance(matcher["exists"], bool)
                if isinstance(matcher, dict) and not (prefix or exists):
                    raise UnsupportedPattern(f"{where}: {json.dumps(matcher)} is not supported by the local stand-in "
                                             "(only literal values, {\"prefix\": \"...\"} and {\"exists\": bool})")
        else:
            raise UnsupportedPattern(f"{where}: a value to match is a list (or an object), not {json.dumps(value)}")


def same_literal(expected, value):
    """EventBridge's equality: exact, numbers as numbers, true not 1, null only null."""
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return expected is value
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def matches_value(matchers, value):
    candidates = value if isinstance(value, list) else [value]
    for matcher in matchers:
        if isinstance(matcher, dict) and "exists" in matcher:
            if matcher["exists"]:
                return True
            continue
        for candidate in candidates:
            if isinstance(matcher, dict):
                if isinstance(candidate, str) and candidate.startswith(matcher["prefix"]):
                    return True
            elif same_literal(matcher, candidate):
                return True
    return False


def matches_absent(expected):
    """Whether a field the event lacks matches: only {"exists": false} does (also under an
    absent object, for every field the pattern names there)."""
    if isinstance(expected, dict):
        return all(matches_absent(value) for value in expected.values())
    return any(isinstance(m, dict) and m.get("exists") is False for m in expected)


def matches(pattern, event):
    """Whether the event matches the pattern: every key of the pattern is in the event (but a
    field matched with {"exists": false}); a list matches a value equal to one of its elements
    (or an array with such an element); an object matches an object that matches it (or an
    array holding one)."""
    for key, expected in pattern.items():
        if not isinstance(event, dict) or key not in event:
            if matches_absent(expected):
                continue
            return False
        value = event[key]
        if isinstance(expected, dict):
            candidates = value if isinstance(value, list) else [value]
            if not any(isinstance(c, dict) and matches(expected, c) for c in candidates):
                return False
        elif not matches_value(expected, value):
            return False
    return True


# ------------------------------------------------------------------ PutEvents

def bus_name(value):
    """An entry's or rule's bus: a name, an ARN (…:event-bus/NAME), or none (the default bus)."""
    if not value:
        return "default"
    if value.startswith("arn:") and ":event-bus/" in value:
        return value.split(":event-bus/", 1)[1]
    return value


def entry_size(entry):
    """An entry's size as EventBridge counts it (Time 14 bytes, the strings' UTF-8 bytes)."""
    size = 14 if entry.get("Time") is not None else 0
    for field in ("Source", "DetailType", "Detail"):
        if isinstance(entry.get(field), str):
            size += len(entry[field].encode())
    for resource in entry.get("Resources") or []:
        if isinstance(resource, str):
            size += len(resource.encode())
    return size


def check_request(body):
    """The request's entries, or Rejected as EventBridge rejects the whole call."""
    entries = body.get("Entries") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise Rejected("ValidationException", "1 validation error detected: Value at 'entries' failed to satisfy "
                                              "constraint: Member must not be null")
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise Rejected("ValidationException", f"1 validation error detected: Value '{len(entries)}' at 'entries' "
                                              f"failed to satisfy constraint: Member must have length between 1 and "
                                              f"{MAX_ENTRIES}")
    if sum(entry_size(entry) for entry in entries) > MAX_REQUEST_BYTES:
        raise Rejected("ValidationException", "Total size of the entries in the request is over the limit.")
    return entries


def event_time(value):
    """An entry's Time (epoch seconds, as the SDKs send it, or ISO 8601), or now."""
    if value is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, str):
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    raise ValueError(value)


def check_entry(entry):
    """(None, the parsed Detail) for a valid entry, else (ErrorCode, ErrorMessage)."""
    for field in ("Source", "DetailType", "Detail"):
        if not isinstance(entry.get(field), str) or not entry[field]:
            return "InvalidArgument", f"Parameter {field} is not valid. Reason: {field} is a required argument."
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    resources = entry.get("Resources")
    if resources is not None and not (isinstance(resources, list) and all(isinstance(r, str) for r in resources)):
        return "InvalidArgument", "Parameter Resources is not valid."
    try:
        event_time(entry.get("Time"))
    except (ValueError, OverflowError, OSError):
        return "InvalidArgument", "Parameter Time is not valid."
    return None, detail


def delivered_event(entry, detail, event_id, account, region):
    """The event as EventBridge delivers it to a rule's targets."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": account,
        "time": event_time(entry.get("Time")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": entry.get("Resources") or [],
        "detail": detail,
    }


# ------------------------------------------------------------------ the bus

class Bus:
    def __init__(self, events_file, config, lambda_url, account, region):
        self.events_file = events_file
        self.buses = set(config.get("buses", [])) | {"default"}
        self.rules = config.get("rules", [])
        self.lambda_url = lambda_url
        self.account = account
        self.region = region
        self.lock = threading.Lock()
        self.deliveries = queue.Queue()
        # Test control (POST /test/refuse): entries whose Detail contains this text fail, as
        # EventBridge's own failures do (an entry with an ErrorCode), to show what the
        # publisher does with a record it cannot publish.
        self.refusing = None
        for rule in self.rules:
            try:
                check_pattern(rule["pattern"])
            except UnsupportedPattern as err:
                raise SystemExit(f"rule {rule['name']}: {err}") from None
            if rule.get("functions") and not lambda_url:
                raise SystemExit(f"rule {rule['name']} targets functions: --lambda-endpoint is needed")

    def start_delivering(self):
        threading.Thread(target=self.deliver_forever, daemon=True).start()

    def put_events(self, body):
        entries = check_request(body)
        results, failed = [], 0
        for entry in entries:
            error, detail_or_message = check_entry(entry)
            if not error and self.refusing and self.refusing in str(entry.get("Detail", "")):
                error, detail_or_message = "InternalFailure", "refused by the stand-in's test control"
            if error:
                failed += 1
                results.append({"ErrorCode": error, "ErrorMessage": detail_or_message})
                continue
            detail = detail_or_message
            event_id = str(uuid.uuid4())
            bus = bus_name(entry.get("EventBusName"))
            event = delivered_event(entry, detail, event_id, self.account, self.region)
            self.record(event, bus)
            self.route(event, bus)
            results.append({"EventId": event_id})
        return {"FailedEntryCount": failed, "Entries": results}

    def record(self, event, bus):
        with self.lock, open(self.events_file, "a") as out:
            out.write(json.dumps(dict(event, **{"event-bus-name": bus})) + "\n")

    def route(self, event, bus):
        if bus not in self.buses:
            # EventBridge too accepts an event for a bus that does not exist, and drops it.
            log(f"{event['id']} {event['detail-type']}: bus {bus} is not in the template: dropped")
            return
        for rule in self.rules:
            if bus_name(rule["bus"]) == bus and matches(rule["pattern"], event):
                for function in rule.get("functions", []):
                    self.deliveries.put((rule["name"], function, event))

    def deliver_forever(self):
        while True:
            rule, function, event = self.deliveries.get()
            request = urllib.request.Request(
                f"{self.lambda_url}/2015-03-31/functions/{function}/invocations", data=json.dumps(event).encode(),
                method="POST", headers={"Content-Type": "application/json", "X-Amz-Invocation-Type": "Event"})
            try:
                with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT) as response:
                    outcome = f"{response.status} {response.read(300).decode(errors='replace')}"
            except urllib.error.HTTPError as err:
                outcome = f"failed: HTTP {err.code} {err.read(300).decode(errors='replace')}"
            except (urllib.error.URLError, OSError) as err:
                outcome = f"failed: {err}"
            log(f"{event['id']} {event['detail-type']} -> {rule} -> {function}: {' '.join(outcome.split())}")


def handler_for(bus):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def send_json(self, status, value):
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path in ("/", "/health"):
                self.send_json(200, {"ok": True})
            else:
                self.send_json(404, {"__type": "UnknownOperationException", "message": f"GET {self.path}"})

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/test/refuse":
                bus.refusing = (json.loads(raw or b"{}") or {}).get("containing") or None
                log(f"test control: refusing events containing {bus.refusing!r}")
                self.send_json(200, {"refusing": bus.refusing})
                return
            target = self.headers.get("X-Amz-Target", "")
            if target != "AWSEvents.PutEvents":
                log(f"{target or 'no X-Amz-Target'}: not an operation of the stand-in")
                self.send_json(400, {"__type": "UnknownOperationException",
                                     "message": f"the EventBridge stand-in answers only PutEvents, not {target!r}"})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self.send_json(400, {"__type": "SerializationException", "message": "the body is not JSON"})
                return
            try:
                answer = bus.put_events(body)
            except Rejected as err:
                log(f"PutEvents rejected: {err.error_type}: {err.message}")
                self.send_json(400, {"__type": err.error_type, "message": err.message})
                return
            failures = [f"; failed: {e['ErrorCode']} {e['ErrorMessage']}" for e in answer["Entries"] if "ErrorCode" in e]
            log(f"PutEvents: {len(answer['Entries']) - answer['FailedEntryCount']} accepted{''.join(failures)}")
            self.send_json(200, answer)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events-file", required=True, help="each accepted event is appended here, as a JSON line")
    parser.add_argument("--rules", help="the buses and rules (see above); none: events are only recorded")
    parser.add_argument("--lambda-endpoint", help="the Lambda API the rules' functions are invoked through")
    parser.add_argument("--account", default="123456789012")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args()
    config = {}
    if args.rules:
        with open(args.rules) as rules:
            config = json.load(rules)
    bus = Bus(args.events_file, config, (args.lambda_endpoint or "").rstrip("/"), args.account, args.region)
    bus.start_delivering()
    for rule in bus.rules:
        log(f"rule {rule['name']} on bus {rule['bus']}: {json.dumps(rule['pattern'])} -> "
            f"{', '.join(rule.get('functions', [])) or 'no function'}")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(bus))
    log(f"EventBridge stand-in on 127.0.0.1:{args.port}, events to {args.events_file}")
    server.serve_forever()


if __name__ == "__main__":
    main()
