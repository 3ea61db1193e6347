#!/usr/bin/env python3
"""Sends stream records that webhook-events could not publish to it again, once the cause is
fixed (docs/OPERATIONS.md, "Stream records failed").

Two places hold them:

- the failed-records queue (the stack's FailedRecordsQueueUrl output): each message is one
  record, whole, as Lambda delivered it (keys, old and new images, sequence number, the stream's
  ARN), kept 14 days by webhook-events itself;
- the failed-batches queue (FailedStreamBatchesQueueUrl, --positions): what the stream mapping
  sends after its last retry, the batch's shard and first and last sequence numbers only. The
  records are read again from the stream, which keeps them 24 hours; after that only the first
  queue has them.

Each record goes to the function's live alias as the stream mapping would send it (a batch of
one, the mapping's filters applied), in stream order; a message is deleted only once the function
took its records without an error or a reported failure, so a replay that fails can be run again.

    replay_stream_records.py --env prod [--positions] [--dry-run] [--max N]
    replay_stream_records.py --stack-file .local/dev/stack.json     # the local stack's
"""

import argparse
import json
import pathlib
import sys

import boto3

import samconfig
import template

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "local"))  # the stand-ins
from bus_standin import matches  # noqa: E402

FUNCTION_LOGICAL_ID = "WebhookEventsFunction"


class ReplayError(Exception):
    pass


def outputs(cloudformation, stack):
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def mapping_filters(doc, stack):
    """The stream mappings' filter patterns of the template, by table name."""
    props = doc["Resources"][FUNCTION_LOGICAL_ID]["Properties"]
    tables = {logical_id: template.resolve(p["TableName"], stack)
              for logical_id, p in template.resources(doc, "AWS::DynamoDB::Table")}
    out = {}
    for event in (props.get("Events") or {}).values():
        p = event.get("Properties") or {}
        if event.get("Type") != "DynamoDB":
            continue
        table = tables.get((p.get("Stream") or {}).get("Fn::GetAtt", [None])[0])
        patterns = [json.loads(f["Pattern"]) for f in (p.get("FilterCriteria") or {}).get("Filters") or []]
        if table and patterns:
            out[table] = patterns
    return out


def table_of(stream_arn):
    """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<time> -> <name>."""
    return stream_arn.split(":table/", 1)[1].split("/stream/", 1)[0]


def lambda_record(record, stream_arn):
    """A record as GetRecords gives it (through boto3), as the stream mapping delivers it:
    with the stream's ARN, and its time a number of seconds."""
    delivered = dict(record, eventSourceARN=stream_arn, eventVersion="1.1", eventSource="aws:dynamodb")
    change = dict(record["dynamodb"])
    when = change.get("ApproximateCreationDateTime")
    if hasattr(when, "timestamp"):
        change["ApproximateCreationDateTime"] = when.timestamp()
    delivered["dynamodb"] = change
    return delivered


def sequence(record):
    return int(record["dynamodb"]["SequenceNumber"])


class Replayer:
    def __init__(self, lambda_client, sqs, streams, function, filters, out=sys.stdout, dry_run=False):
        self.lambda_client = lambda_client
        self.sqs = sqs
        self.streams = streams
        self.function = function
        self.filters = filters
        self.out = out
        self.dry_run = dry_run
        self.counts = {"replayed": 0, "failed": 0, "filtered": 0, "messages done": 0, "messages kept": 0}

    def say(self, text):
        print(text, file=self.out, flush=True)

    def wanted(self, record):
        patterns = self.filters.get(table_of(record.get("eventSourceARN", "")))
        return not patterns or any(matches(p, record) for p in patterns)

    def invoke(self, record):
        """True if the function took the record (no error, nothing reported failed)."""
        answer = self.lambda_client.invoke(FunctionName=self.function, InvocationType="RequestResponse",
                                           Payload=json.dumps({"Records": [record]}).encode())
        body = answer["Payload"].read().decode(errors="replace")
        if answer.get("FunctionError"):
            self.say(f"    failed: {body[:300]}")
            return False
        try:
            reported = (json.loads(body) or {}).get("batchItemFailures") if body.strip() else None
        except (ValueError, AttributeError):
            reported = None
        if reported:
            self.say(f"    reported failed by the function: {json.dumps(reported)[:300]}")
            return False
        return True

    def replay(self, records):
        """Replays the records in stream order; True if each one was taken (or filtered out)."""
        ok = True
        for record in sorted(records, key=sequence):
            where = f"{table_of(record['eventSourceARN'])} {record['eventName']} {record['dynamodb']['SequenceNumber']}"
            if not self.wanted(record):
                self.counts["filtered"] += 1
                self.say(f"  {where}: filtered out, as the stream mapping would")
                continue
            if self.dry_run:
                self.say(f"  {where}: would be replayed")
                continue
            self.say(f"  {where}: replaying")
            if self.invoke(record):
                self.counts["replayed"] += 1
            else:
                self.counts["failed"] += 1
                ok = False
        return ok

    def messages(self, queue_url, most):
        seen = 0
        while seen < most:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, most - seen),
                                           WaitTimeSeconds=1, VisibilityTimeout=60).get("Messages", [])
            if not got:
                return
            seen += len(got)
            yield from got

    def finish(self, queue_url, message, ok):
        if ok and not self.dry_run:
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.counts["messages done"] += 1
        else:
            # Back in the queue at once, for the next run.
            self.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                               VisibilityTimeout=0)
            self.counts["messages kept"] += 1

    def whole_records(self, queue_url, most):
        for message in self.messages(queue_url, most):
            try:
                record = json.loads(message["Body"])
                ok = self.replay([record])
            except (ValueError, KeyError) as err:
                self.say(f"  message {message['MessageId']}: not a stream record ({err}): kept")
                ok = False
            self.finish(queue_url, message, ok)

    def positions(self, queue_url, most):
        for message in self.messages(queue_url, most):
            try:
                info = json.loads(message["Body"])["DDBStreamBatchInfo"]
                records = self.read_stream(info)
            except (ValueError, KeyError) as err:
                self.say(f"  message {message['MessageId']}: not a stream batch's position ({err}): kept")
                self.finish(queue_url, message, False)
                continue
            except ReplayError as err:
                self.say(f"  message {message['MessageId']}: {err}: kept")
                self.finish(queue_url, message, False)
                continue
            self.say(f"  {info['streamArn']} shard {info['shardId']}: {len(records)} records")
            self.finish(queue_url, message, self.replay(records))

    def read_stream(self, info):
        """The batch's records, from the stream: from its first sequence number to its last."""
        try:
            iterator = self.streams.get_shard_iterator(
                StreamArn=info["streamArn"], ShardId=info["shardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
        except self.streams.exceptions.TrimmedDataAccessException:
            raise ReplayError("the stream no longer holds these records (24 hours passed): "
                              "only the failed-records queue can have them") from None
        except self.streams.exceptions.ResourceNotFoundException:
            raise ReplayError("the stream or its shard is gone") from None
        last, records, empty = int(info["endSequenceNumber"]), [], 0
        # An open shard answers empty reads at its end: a few in a row mean nothing more is there.
        while iterator and empty < 3:
            answer = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            batch = answer.get("Records", [])
            empty = 0 if batch else empty + 1
            for record in batch:
                if sequence(record) > last:
                    return records
                records.append(lambda_record(record, info["streamArn"]))
            iterator = answer.get("NextShardIterator")
        return records


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", help="an environment of samconfig.toml (dev, prod)")
    parser.add_argument("--stack-file", help="a local stack's stack.json (make dev: .local/dev/stack.json): "
                                             "replay there instead of in a deployed stack")
    parser.add_argument("--positions", action="store_true",
                        help="replay the failed batches' positions, read again from the stream (within 24 hours)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
    parser.add_argument("--max", type=int, default=100, help="at most this many messages (default 100)")
    parser.add_argument("--config", default=str(samconfig.SAMCONFIG), help="the samconfig.toml to read")
    parser.add_argument("--endpoint-url", help="another AWS endpoint")
    args = parser.parse_args(argv)
    if args.stack_file:
        return replay_locally(args, out)
    if not args.env:
        parser.error("--env (or --stack-file) is required")
    config = samconfig.load(args.env, pathlib.Path(args.config))
    stack, region = config["stack_name"], config["region"]

    def client(service):
        return boto3.client(service, region_name=region, endpoint_url=args.endpoint_url)

    found = outputs(client("cloudformation"), stack)
    key = "FailedStreamBatchesQueueUrl" if args.positions else "FailedRecordsQueueUrl"
    if key not in found:
        print(f"replay: the stack {stack} has no {key} output: deploy the current template first", file=out)
        return 1
    function = f"{stack}-webhook-events:live"
    replayer = Replayer(client("lambda"), client("sqs"), client("dynamodbstreams"), function,
                        mapping_filters(template.load(), stack), out, args.dry_run)
    print(f"Replaying {'the failed batches (positions)' if args.positions else 'the failed records'} of {stack} "
          f"to {function}{' (dry run)' if args.dry_run else ''}", file=out)
    if args.positions:
        replayer.positions(found[key], args.max)
    else:
        replayer.whole_records(found[key], args.max)
    print(", ".join(f"{n} {what}" for what, n in replayer.counts.items()), file=out)
    return 1 if replayer.counts["failed"] or replayer.counts["messages kept"] and not args.dry_run else 0


def replay_locally(args, out):
    """The same replay in the local stack: its moto (SQS, streams), its functions by binary."""
    state = json.loads(pathlib.Path(args.stack_file).read_text())
    queue = state.get("queues", {}).get(
        "WebhookEventsDeadLetterQueue" if args.positions else "FailedRecordsQueue")
    if not queue:
        print("replay: the local stack has no such queue (restart it with the current template)", file=out)
        return 1

    def client(service, endpoint):
        return boto3.client(service, region_name=state["region"], endpoint_url=endpoint,
                            aws_access_key_id="local", aws_secret_access_key="local")

    local = state["dynamodb_endpoint"]
    replayer = Replayer(client("lambda", state["lambda_endpoint"]), client("sqs", local),
                        client("dynamodbstreams", local), "webhook-events",
                        mapping_filters(template.load(), "tenantry-local"), out,
                        args.dry_run)
    print(f"Replaying the local stack's {'failed batches' if args.positions else 'failed records'}", file=out)
    if args.positions:
        replayer.positions(queue, args.max)
    else:
        replayer.whole_records(queue, args.max)
    print(", ".join(f"{n} {what}" for what, n in replayer.counts.items()), file=out)
    return 1 if replayer.counts["failed"] or replayer.counts["messages kept"] and not args.dry_run else 0


if __name__ == "__main__":
    sys.exit(main())
