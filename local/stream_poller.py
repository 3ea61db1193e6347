#!/usr/bin/env python3
"""A stand-in for Lambda's DynamoDB Streams event source mapping, for the local stack: nothing
invokes a function from a stream locally, so this polls every stream on the local DynamoDB (moto)
and invokes one function with the records, as Lambda would.

Every half second it finds the tables that have a stream (tables created while it runs too: the
silo tables), reads each shard from its start (TRIM_HORIZON) with DynamoDB Streams' GetRecords,
and invokes the function synchronously through the Lambda API (`cargo lambda watch`) with up to
a batch of records (100 unless told), in stream order, in the event Lambda sends. What it copies
from Lambda: one batch at a time per shard, a child shard after its parent; an error makes it send
the batch again, and so does a failure the function reports (`batchItemFailures`), from the first
failed record, when the mapping reports batch item failures (ReportBatchItemFailures; without it,
as in AWS, such an answer is a success, logged); again after 1 s, doubling to 10 s, never skipping
a record. A table's filters (the mapping's FilterCriteria, given by table name) are applied as
Lambda applies them: a record that matches none of them is dropped before batching, and counts
as read. What it does not: a parallelization factor, bisecting a failed batch, a maximum record
age or retry count, failure destinations, tumbling windows; and it polls every table with a
stream, where AWS invokes the function only for the streams it is mapped to. Each invocation's
outcome is a line of its log; an endpoint that does not answer is logged and tried again.

A table created while it runs (a premium tenant's silo table) has its stream read from its start
only --new-stream-delay seconds (10 unless told) after the poller first sees it, as in AWS: the
event source mapping the provisioning job creates for it takes a while to become enabled, then
reads from TRIM_HORIZON, so what was written meanwhile (a migration's copy) reaches the function
after whatever came next (the switch to the new table). The tables there at its start (the
template's, mapped with the stack) are read at once.

    stream_poller.py --dynamodb-endpoint http://127.0.0.1:5010 --lambda-endpoint http://127.0.0.1:9000 \\
        [--function webhook-events] [--batch-size 100] [--report-batch-item-failures] [--filters FILE] \\
        [--new-stream-delay 10]

The filters file: {"<table name>": [pattern, ...]}, EventBridge patterns as Lambda takes them
(the local stand-in's subset: see bus_standin.py); a table not in it is not filtered.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bus_standin import check_pattern, matches

REGION = "us-east-1"
CREDENTIALS = Credentials("local", "local")
# GetRecords reads at most this many records a call.
MOST_RECORDS = 1000
POLL_EVERY = 0.5
# A table already seen is described again this often (a table deleted and created again under
# its name has a new stream); new tables are described as soon as they are listed.
DESCRIBE_EVERY = 10.0
FIRST_PAUSE, LONGEST_PAUSE = 1.0, 10.0
# The first invocation of a function may compile it (`cargo lambda watch`).
INVOKE_TIMEOUT = 900


class AwsError(Exception):
    """An error answer of the DynamoDB (Streams) API: its code and message."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code


def log(message):
    """One line of the log (an answer's text quoted in it is put on that line)."""
    print(f"{time.strftime('%H:%M:%S')} {' '.join(str(message).split())}", flush=True)


# ------------------------------------------------------------------ DynamoDB and its streams

def aws_call(endpoint, target, body):
    """One call of the DynamoDB or DynamoDB Streams JSON API, signed, answered as plain JSON: the
    records' images stay in DynamoDB's JSON form ({"S": ...}), as Lambda passes them on."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    signed = AWSRequest(method="POST", url=f"{endpoint}/", data=data, headers=headers)
    SigV4Auth(CREDENTIALS, "dynamodb", REGION).add_auth(signed)
    request = urllib.request.Request(f"{endpoint}/", data=data, method="POST", headers=dict(signed.headers.items()))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        try:
            answer = json.loads(text)
        except ValueError:
            raise AwsError(f"HTTP {err.code}", text[:300]) from None
        code = str(answer.get("__type", f"HTTP {err.code}")).rsplit("#", 1)[-1]
        raise AwsError(code, answer.get("message") or answer.get("Message") or text[:300]) from None


def list_tables(endpoint):
    names, start = [], None
    while True:
        answer = aws_call(endpoint, "DynamoDB_20120810.ListTables", {"ExclusiveStartTableName": start} if start else {})
        names += answer.get("TableNames", [])
        start = answer.get("LastEvaluatedTableName")
        if not start:
            return names


def stream_of(endpoint, table):
    """The table's stream (its ARN), or None: no stream, or the table is gone."""
    try:
        described = aws_call(endpoint, "DynamoDB_20120810.DescribeTable", {"TableName": table})["Table"]
    except AwsError as err:
        if err.code == "ResourceNotFoundException":
            return None
        raise
    if not (described.get("StreamSpecification") or {}).get("StreamEnabled"):
        return None
    return described.get("LatestStreamArn")


def shards_of(endpoint, arn):
    """The stream's shards, oldest first, as DescribeStream lists them."""
    shards, start = [], None
    while True:
        body = {"StreamArn": arn}
        if start:
            body["ExclusiveStartShardId"] = start
        described = aws_call(endpoint, "DynamoDBStreams_20120810.DescribeStream", body)["StreamDescription"]
        shards += described.get("Shards", [])
        start = described.get("LastEvaluatedShardId")
        if not start:
            return shards


def iterator(endpoint, arn, shard_id, after=None):
    """A shard iterator: at the shard's start, or after the sequence number `after`."""
    body = {"StreamArn": arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
    if after:
        body.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
    return aws_call(endpoint, "DynamoDBStreams_20120810.GetShardIterator", body)["ShardIterator"]


# ------------------------------------------------------------------ what Lambda sends and answers

def lambda_record(record, arn):
    """A record as Lambda delivers it: GetRecords' record, with Lambda's event version and the
    stream's ARN (ApproximateCreationDateTime stays a number of seconds)."""
    delivered = dict(record)
    delivered["eventVersion"] = "1.1"
    delivered["eventSource"] = "aws:dynamodb"
    delivered["eventSourceARN"] = arn
    return delivered


def judge(status, function_error, body, sequence_numbers, report_failures=True):
    """What an invocation's answer means, as Lambda reads it: (None, a note or "") when the batch
    succeeded, else (the position of the first record to send again, why).

    The whole batch failed: an HTTP error or a function error. With ReportBatchItemFailures
    (`report_failures`), also an answer that is neither JSON nor empty, not a JSON object (nor
    null), or a failure whose itemIdentifier is null, empty or not in the batch; a success: an
    empty answer, null, {}, or no (or an empty) `batchItemFailures`; otherwise the batch is sent
    again from the earliest record reported. Without it, any other answer is a success."""
    text = (body or b"").decode(errors="replace").strip()
    if status != 200:
        return 0, f"HTTP {status}: {text[:300]}"
    try:
        answer, parsed = (json.loads(text) if text else None), True
    except ValueError:
        answer, parsed = None, False
    if isinstance(answer, dict) and ("errorType" in answer or "errorMessage" in answer):
        return 0, f"function error: {answer.get('errorType')}: {answer.get('errorMessage')}"
    if function_error:
        return 0, f"function error ({function_error}): {text[:300]}"
    if not report_failures:
        reported = isinstance(answer, dict) and answer.get("batchItemFailures")
        return None, (f"batchItemFailures ignored, as Lambda does without ReportBatchItemFailures: {text[:300]}"
                      if reported else "")
    if not parsed:
        return 0, f"the answer is not JSON: {text[:300]}"
    if answer is None:
        return None, ""
    if not isinstance(answer, dict):
        return 0, f"the answer is not a JSON object: {text[:300]}"
    failures = answer.get("batchItemFailures")
    if not failures:
        return None, ""
    if not isinstance(failures, list):
        return 0, f"batchItemFailures is not a list: {text[:300]}"
    positions = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier:
            return 0, "a batch item failure without an itemIdentifier: the whole batch failed"
        if identifier not in sequence_numbers:
            return 0, f"itemIdentifier {identifier} is not a sequence number of the batch: the whole batch failed"
        positions.append(sequence_numbers.index(identifier))
    first = min(positions)
    return first, f"{len(failures)} reported failed, the first {sequence_numbers[first]}"


def wanted(record, patterns):
    """Whether a record passes a mapping's filters: no filters, or one pattern it matches."""
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def invoke(lambda_url, function, records, report_failures):
    """Invokes the function synchronously with the records; judge's answer."""
    body = json.dumps({"Records": records}).encode()
    request = urllib.request.Request(f"{lambda_url}/2015-03-31/functions/{function}/invocations", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as response:
            return judge(response.status, response.headers.get("X-Amz-Function-Error"), response.read(),
                         sequence_numbers, report_failures)
    except urllib.error.HTTPError as err:
        return judge(err.code, err.headers.get("X-Amz-Function-Error"), err.read(), sequence_numbers,
                     report_failures)
    except (urllib.error.URLError, OSError) as err:
        return 0, f"no answer from {lambda_url}: {err}"


# ------------------------------------------------------------------ the poller

class Shard:
    def __init__(self, shard_id, parent):
        self.id = shard_id
        self.parent = parent
        self.iterator = None      # None before the first read, and once a closed shard is read
        self.started = False
        self.closed = False       # GetRecords gave no next iterator: nothing more will come
        self.last = None          # the last sequence number read
        self.pending = []         # read, not yet delivered
        self.retry_at = 0.0
        self.pause = FIRST_PAUSE

    def done(self):
        return self.closed and not self.pending


class Stream:
    def __init__(self, arn, table, readable_at=0.0):
        self.arn = arn
        self.table = table
        self.readable_at = readable_at  # when its (new) mapping starts reading (time.monotonic())
        self.shards = {}
        self.described_at = None
        self.reshard = False      # a shard closed: its children are to be found
        self.gone = False         # its table is deleted or its stream replaced: drained, then dropped
        self.idle = False         # the last poll read nothing and has nothing pending

    def describe_due(self):
        return (not self.shards or self.reshard or self.described_at is None
                or time.monotonic() - self.described_at >= DESCRIBE_EVERY)

    def pending(self):
        return any(shard.pending for shard in self.shards.values())


class Poller:
    def __init__(self, dynamodb_url, lambda_url, function, batch_size, report_failures, filters=None,
                 new_stream_delay=10.0):
        self.dynamodb = dynamodb_url
        self.lambda_url = lambda_url
        self.function = function
        self.batch = batch_size
        self.report_failures = report_failures
        self.filters = filters or {}  # table name -> patterns
        self.new_stream_delay = new_stream_delay
        self.tables = {}          # table name -> its stream's ARN (or None)
        self.streams = {}         # stream ARN -> Stream
        self.described_at = 0.0
        self.started = False      # the first discovery is done: streams found later are new

    def found(self, arn, table):
        """A stream seen for the first time: read at once if it was there at the start, else from
        its start once a new mapping would be enabled."""
        delay = self.new_stream_delay if self.started else 0.0
        stream = Stream(arn, table, readable_at=time.monotonic() + delay)
        log(f"{table} has a stream: {arn}" + (f" (a new one: read from its start in {delay:g}s)" if delay else ""))
        self.streams[arn] = stream
        return stream

    def discover(self):
        """Finds the tables, and so the streams: new tables at once, the others now and then."""
        names = list_tables(self.dynamodb)
        everyone = time.monotonic() - self.described_at >= DESCRIBE_EVERY
        for name in names:
            if everyone or name not in self.tables:
                self.tables[name] = stream_of(self.dynamodb, name)
        if everyone:
            self.described_at = time.monotonic()
        for name in set(self.tables) - set(names):
            del self.tables[name]
        live = {arn: name for name, arn in self.tables.items() if arn}
        for arn, name in live.items():
            if arn not in self.streams:
                self.found(arn, name)
        for arn, stream in self.streams.items():
            stream.gone = arn not in live
        self.started = True

    def describe(self, stream):
        """Adds the stream's new shards. A deleted table's stream stays readable (24 hours, in
        AWS) but can no longer be described: its known shards are read to their end."""
        try:
            shards = shards_of(self.dynamodb, stream.arn)
        except AwsError as err:
            if err.code != "ResourceNotFoundException" or not stream.shards:
                raise
            shards = []
        for shard in shards:
            if shard["ShardId"] not in stream.shards:
                stream.shards[shard["ShardId"]] = Shard(shard["ShardId"], shard.get("ParentShardId"))
        stream.described_at = time.monotonic()
        stream.reshard = False

    def ready(self, stream, shard):
        """A shard is read once its parent (if still listed) is done: changes stay in order."""
        parent = stream.shards.get(shard.parent)
        return not shard.done() and (parent is None or parent.done())

    def fetch(self, stream, shard):
        """Reads up to a batch into the shard's pending records."""
        if not shard.started:
            shard.iterator = iterator(self.dynamodb, stream.arn, shard.id)
            shard.started = True
        try:
            answer = aws_call(self.dynamodb, "DynamoDBStreams_20120810.GetRecords",
                              {"ShardIterator": shard.iterator,
                               "Limit": min(MOST_RECORDS, self.batch - len(shard.pending))})
        except AwsError as err:
            if err.code != "ExpiredIteratorException":
                raise
            shard.iterator = iterator(self.dynamodb, stream.arn, shard.id, after=shard.last)
            return
        records = answer.get("Records", [])
        shard.iterator = answer.get("NextShardIterator")
        if records:
            delivered = [lambda_record(record, stream.arn) for record in records]
            patterns = self.filters.get(stream.table)
            kept = [record for record in delivered if wanted(record, patterns)]
            if len(kept) < len(delivered):
                log(f"{stream.table} {len(delivered) - len(kept)} records filtered out")
            shard.pending += kept
            shard.last = records[-1]["dynamodb"]["SequenceNumber"]
        if shard.iterator is None:
            shard.closed = True
            stream.reshard = True

    def deliver(self, stream, shard):
        """Invokes the function with the pending records; keeps those to send again."""
        batch = shard.pending[:self.batch]
        first_failed, reason = invoke(self.lambda_url, self.function, batch, self.report_failures)
        if first_failed is None:
            log(f"{stream.table} {len(batch)} records ok" + (f" ({reason})" if reason else ""))
            shard.pending = shard.pending[len(batch):]
            shard.pause = FIRST_PAUSE
            return
        again = batch[first_failed]["dynamodb"]["SequenceNumber"]
        log(f"{stream.table} {len(batch)} records failed: {reason}; again in {shard.pause:g}s from {again}")
        shard.pending = shard.pending[first_failed:]
        shard.retry_at = time.monotonic() + shard.pause
        shard.pause = min(shard.pause * 2, LONGEST_PAUSE)

    def poll(self, stream):
        """One round of a stream: each ready shard read and delivered. True if a full batch was
        read (more may be waiting)."""
        if time.monotonic() < stream.readable_at:
            # Its mapping is not enabled yet (a deleted table's never was: nothing is read).
            stream.idle = True
            return False
        if stream.describe_due():
            self.describe(stream)
        full, idle = False, True
        for shard in list(stream.shards.values()):
            if not self.ready(stream, shard) or time.monotonic() < shard.retry_at:
                idle = idle and not shard.pending
                continue
            if len(shard.pending) < self.batch and not shard.closed:
                self.fetch(stream, shard)
            if shard.pending:
                idle = False
                full = full or len(shard.pending) >= self.batch
                self.deliver(stream, shard)
        stream.idle = idle
        return full

    def run(self):
        log(f"polling the streams of {self.dynamodb} for {self.function} at {self.lambda_url}: batches of up to "
            f"{self.batch}, batch item failures {'reported' if self.report_failures else 'not reported (ignored)'}")
        while True:
            busy = False
            try:
                self.discover()
            except (AwsError, urllib.error.URLError, OSError, ValueError, KeyError) as err:
                log(f"listing the tables failed: {err}; trying again")
            for arn, stream in list(self.streams.items()):
                try:
                    busy = self.poll(stream) or busy
                except AwsError as err:
                    if err.code == "ResourceNotFoundException" and stream.gone and not stream.pending():
                        stream.idle = True
                    else:
                        log(f"{stream.table} polling failed: {err}; trying again")
                except (urllib.error.URLError, OSError, ValueError, KeyError) as err:
                    log(f"{stream.table} polling failed: {err}; trying again")
                if stream.gone and stream.idle:
                    log(f"{stream.table}: its stream {arn} is gone and drained")
                    del self.streams[arn]
            if not busy:
                time.sleep(POLL_EVERY)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dynamodb-endpoint", required=True)
    parser.add_argument("--lambda-endpoint", required=True)
    parser.add_argument("--function", default="webhook-events", help="the function the records go to")
    parser.add_argument("--batch-size", type=int, default=100, help="the most records an invocation gets")
    parser.add_argument("--new-stream-delay", type=float, default=10.0,
                        help="seconds before the stream of a table created while polling is read (from its start)")
    parser.add_argument("--report-batch-item-failures", action="store_true",
                        help="the mapping's FunctionResponseTypes has ReportBatchItemFailures: the function's "
                             "batchItemFailures are sent again (else they are ignored, as Lambda does)")
    parser.add_argument("--filters", help="a JSON file: each table's filter patterns (FilterCriteria)")
    args = parser.parse_args()
    if args.batch_size < 1:
        parser.error("--batch-size: at least 1")
    filters = {}
    if args.filters:
        with open(args.filters) as file:
            filters = json.load(file)
        for table, patterns in filters.items():
            for pattern in patterns:
                check_pattern(pattern, f"{table}'s filter")
    try:
        Poller(args.dynamodb_endpoint.rstrip("/"), args.lambda_endpoint.rstrip("/"), args.function,
               args.batch_size, args.report_batch_item_failures, filters, args.new_stream_delay).run()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
