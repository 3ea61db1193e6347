"""The replay of failed stream records (scripts/replay_stream_records.py) against moto (the stack's
outputs, the queues, the table's stream) and a stand-in for Lambda's Invoke API that records what
the function was sent and answers as told.

    .venv/bin/python -m unittest discover -s scripts -p 'test_replay_stream_records.py'
"""

import http.server
import io
import json
import logging
import os
import pathlib
import sys
import threading
import unittest
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

import replay_stream_records  # noqa: E402

REGION = "eu-west-1"
STACK = "tenantry"  # samconfig.toml's prod
TENANT = "TENANT#01JB8Z4K2M6Q9R3T5V7W9XAAAA"


class FakeLambda(http.server.ThreadingHTTPServer):
    """Lambda's Invoke API: each call recorded; the answer is `self.answer` (status, headers, body)."""

    def __init__(self):
        self.calls = []
        self.answer = (200, {}, b"{}")
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                name = self.path.split("/functions/", 1)[1].split("/invocations", 1)[0]
                server.calls.append((urllib.request.unquote(name), json.loads(self.rfile.read(length))))
                status, headers, body = server.answer
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)


class Replay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        cls.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        cls.moto.start()
        host, port = cls.moto.get_host_and_port()
        cls.moto_url = f"http://{host}:{port}"
        cls.fake = FakeLambda()
        threading.Thread(target=cls.fake.serve_forever, daemon=True).start()
        cls.environment = dict(os.environ)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_CONFIG_FILE=os.devnull,
                          AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_ENDPOINT_URL=cls.moto_url,
                          AWS_ENDPOINT_URL_LAMBDA=f"http://127.0.0.1:{cls.fake.server_address[1]}")

    @classmethod
    def tearDownClass(cls):
        cls.fake.shutdown()
        cls.moto.stop()
        os.environ.clear()
        os.environ.update(cls.environment)

    def setUp(self):
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST")).read()
        self.fake.calls.clear()
        self.fake.answer = (200, {}, b"{}")
        cloudformation = self.aws("cloudformation")
        cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps({
            "Resources": {"Records": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{STACK}-stream-records-failed"}},
                          "Batches": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"{STACK}-webhook-events-failed"}}},
            "Outputs": {"FailedRecordsQueueUrl": {"Value": {"Ref": "Records"}},
                        "FailedStreamBatchesQueueUrl": {"Value": {"Ref": "Batches"}}}}))
        found = {o["OutputKey"]: o["OutputValue"] for o in cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]}
        self.records_queue, self.batches_queue = found["FailedRecordsQueueUrl"], found["FailedStreamBatchesQueueUrl"]
        dynamodb = self.aws("dynamodb")
        self.stream_arn = dynamodb.create_table(
            TableName=f"{STACK}-control", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        for pk, sk in ((TENANT, "TENANT"), ("OUTBOX#01JEXAMPLEHELDMAIL00000000", "OUTBOX"), (TENANT, "MEMBER#u1")):
            dynamodb.put_item(TableName=f"{STACK}-control", Item={"pk": {"S": pk}, "sk": {"S": sk}, "name": {"S": "Acme"}})

    def aws(self, service):
        return boto3.client(service, region_name=REGION)

    def stream_records(self):
        streams = self.aws("dynamodbstreams")
        shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        return shard, [replay_stream_records.lambda_record(r, self.stream_arn) for r in records]

    def queued(self, queue):
        attributes = self.aws("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def replay(self, *args):
        out = io.StringIO()
        status = replay_stream_records.main(["--env", "prod", *args], out)
        return status, out.getvalue()

    def test_whole_records_are_sent_to_the_alias_and_their_messages_deleted(self):
        _, records = self.stream_records()
        sqs = self.aws("sqs")
        for record in records:
            sqs.send_message(QueueUrl=self.records_queue, MessageBody=json.dumps(record))
        status, text = self.replay()
        self.assertEqual(status, 0, text)
        # The held e-mail's record is filtered out, as the stream mapping's filter does.
        sent = [(name, call["Records"][0]["dynamodb"]["Keys"]["sk"]["S"]) for name, call in self.fake.calls]
        self.assertEqual(sorted(sent), [(f"{STACK}-webhook-events:live", "MEMBER#u1"), (f"{STACK}-webhook-events:live", "TENANT")])
        self.assertIn("filtered out", text)
        self.assertEqual(self.queued(self.records_queue), 0)

    def test_a_record_that_fails_again_stays_queued(self):
        _, records = self.stream_records()
        self.aws("sqs").send_message(QueueUrl=self.records_queue, MessageBody=json.dumps(records[0]))
        self.fake.answer = (200, {"X-Amz-Function-Error": "Unhandled"}, b'{"errorMessage": "still failing"}')
        status, text = self.replay()
        self.assertEqual(status, 1)
        self.assertIn("still failing", text)
        self.assertEqual(self.queued(self.records_queue), 1)
        sequence = records[0]["dynamodb"]["SequenceNumber"]
        self.fake.answer = (200, {}, json.dumps({"batchItemFailures": [{"itemIdentifier": sequence}]}).encode())
        status, text = self.replay()
        self.assertEqual(status, 1)
        self.assertIn("reported failed", text)
        self.assertEqual(self.queued(self.records_queue), 1)

    def test_positions_are_read_again_from_the_stream_in_order(self):
        shard, records = self.stream_records()
        info = {"shardId": shard, "streamArn": self.stream_arn, "batchSize": len(records),
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"]}
        self.aws("sqs").send_message(QueueUrl=self.batches_queue, MessageBody=json.dumps(
            {"version": "1.0", "requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": info}))
        status, text = self.replay("--positions")
        self.assertEqual(status, 0, text)
        sent = [call["Records"][0]["dynamodb"]["SequenceNumber"] for _, call in self.fake.calls]
        wanted = [r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == TENANT]
        self.assertEqual(sent, wanted)
        self.assertEqual(self.queued(self.batches_queue), 0)

    def test_a_dry_run_changes_nothing(self):
        _, records = self.stream_records()
        self.aws("sqs").send_message(QueueUrl=self.records_queue, MessageBody=json.dumps(records[0]))
        status, text = self.replay("--dry-run")
        self.assertEqual(status, 0, text)
        self.assertIn("would be replayed", text)
        self.assertEqual(self.fake.calls, [])
        self.assertEqual(self.queued(self.records_queue), 1)


if __name__ == "__main__":
    unittest.main()
