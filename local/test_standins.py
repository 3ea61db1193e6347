"""Unit tests of the local stand-ins' pure parts: the EventBridge stand-in's checks and pattern
matching, how the stream poller reads a function's answer, the webhook receiver's verification,
and what local_stack.py takes from the template for them. No server is started.

    .venv/bin/python -m unittest discover -s scripts -p 'test_*.py'
"""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import sys
import tempfile
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))  # template.py

import bus_standin  # noqa: E402
import local_stack  # noqa: E402
import local_tables  # noqa: E402
import stream_poller  # noqa: E402
import template  # noqa: E402
import webhook_receiver  # noqa: E402

EVENT = {"version": "0", "id": "e1", "detail-type": "product.created", "source": "tenantry",
         "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
         "resources": ["arn:aws:dynamodb:us-east-1:123456789012:table/t"],
         "detail": {"tenant": "t1", "tier": "premium", "count": 3, "active": True, "gone": None,
                    "tags": ["tea", "green"], "items": [{"sku": "TEA-1"}, {"sku": "TEA-2"}]}}


class Patterns(unittest.TestCase):
    def test_literals_prefix_and_nesting(self):
        self.assertTrue(bus_standin.matches({"source": ["tenantry"]}, EVENT))
        self.assertTrue(bus_standin.matches({"source": ["other", "tenantry"], "detail-type": ["product.created"]}, EVENT))
        self.assertTrue(bus_standin.matches({"detail-type": [{"prefix": "product."}]}, EVENT))
        self.assertTrue(bus_standin.matches({"detail": {"tier": ["premium"], "count": [3.0]}}, EVENT))
        self.assertFalse(bus_standin.matches({"detail-type": [{"prefix": "order."}]}, EVENT))
        self.assertFalse(bus_standin.matches({"detail": {"tier": ["standard"]}}, EVENT))
        self.assertFalse(bus_standin.matches({"source": ["tenantry"], "detail": {"tier": ["standard"]}}, EVENT))

    def test_every_key_must_be_there(self):
        self.assertFalse(bus_standin.matches({"detail": {"missing": ["x"]}}, EVENT))
        self.assertFalse(bus_standin.matches({"detail": {"tier": {"nested": ["x"]}}}, EVENT))
        self.assertTrue(bus_standin.matches({"detail": {"gone": [None]}}, EVENT))

    def test_types_are_not_mixed(self):
        self.assertFalse(bus_standin.matches({"detail": {"count": ["3"]}}, EVENT))
        self.assertFalse(bus_standin.matches({"detail": {"active": [1]}}, EVENT))
        self.assertTrue(bus_standin.matches({"detail": {"active": [True]}}, EVENT))

    def test_arrays_in_the_event(self):
        self.assertTrue(bus_standin.matches({"detail": {"tags": ["green"]}}, EVENT))
        self.assertTrue(bus_standin.matches({"resources": [{"prefix": "arn:aws:dynamodb:"}]}, EVENT))
        self.assertTrue(bus_standin.matches({"detail": {"items": {"sku": ["TEA-2"]}}}, EVENT))
        self.assertFalse(bus_standin.matches({"detail": {"items": {"sku": ["TEA-3"]}}}, EVENT))

    def test_unsupported_patterns_are_refused(self):
        bus_standin.check_pattern({"source": ["a"], "detail": {"kind": [{"prefix": "x"}, "y", 1, None]}})
        for pattern in ({}, [], {"source": "tenantry"}, {"source": []}, {"source": [["a"]]},
                        {"detail": {"n": [{"numeric": [">", 1]}]}}, {"source": [{"anything-but": "a"}]},
                        {"detail": {"x": [{"exists": "yes"}]}}, {"source": [{"suffix": "a"}]},
                        {"source": [{"prefix": {"equals-ignore-case": "a"}}]}, {"$or": [{"source": ["a"]}]}):
            with self.subTest(pattern=pattern), self.assertRaises(bus_standin.UnsupportedPattern):
                bus_standin.check_pattern(pattern)


    def test_exists(self):
        bus_standin.check_pattern({"detail": {"x": [{"exists": False}]}, "source": [{"exists": True}]})
        self.assertTrue(bus_standin.matches({"detail": {"tier": [{"exists": True}]}}, EVENT))
        self.assertFalse(bus_standin.matches({"detail": {"tier": [{"exists": False}]}}, EVENT))
        self.assertTrue(bus_standin.matches({"detail": {"missing": [{"exists": False}]}}, EVENT))
        self.assertFalse(bus_standin.matches({"detail": {"missing": [{"exists": True}]}}, EVENT))
        # An absent parent: every field named under it is absent too.
        self.assertTrue(bus_standin.matches({"userIdentity": {"type": [{"exists": False}]}}, EVENT))
        self.assertFalse(bus_standin.matches({"userIdentity": {"type": [{"exists": False}], "x": ["a"]}}, EVENT))
        self.assertTrue(bus_standin.matches({"detail": {"missing": [{"exists": False}], "tier": ["premium"]}}, EVENT))


def stream_record(pk, *, ttl=False):
    """A DynamoDB stream record as Lambda delivers it (a TTL expiry is a REMOVE by the service)."""
    record = {"eventID": "e1", "eventName": "REMOVE" if ttl else "MODIFY", "eventVersion": "1.1",
              "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
              "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "X"}}, "SequenceNumber": "100",
                           "StreamViewType": "NEW_AND_OLD_IMAGES"},
              "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"}
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


class StreamFilters(unittest.TestCase):
    """The template's FilterCriteria, applied by the stream poller as Lambda applies them."""

    def setUp(self):
        doc = template.load()
        mapping = local_stack.stream_mapping(doc, {"DataTable": "data", "ControlTable": "control"})
        self.filters = mapping["filters"]
        for patterns in self.filters.values():
            for pattern in patterns:
                bus_standin.check_pattern(pattern)

    def test_the_control_table_passes_tenants_only_and_no_expiry(self):
        control = self.filters["control"]
        tenant = "TENANT#01JB8Z4K2M6Q9R3T5V7W9XAAAA"
        self.assertTrue(stream_poller.wanted(stream_record(tenant), control))
        for pk in ("OUTBOX#01JEXAMPLEHELDMAIL00000000", "WEBHOOK#evt_1", "USER#x", "EMAIL#a@b.c"):
            with self.subTest(pk=pk):
                self.assertFalse(stream_poller.wanted(stream_record(pk), control))
        self.assertFalse(stream_poller.wanted(stream_record(tenant, ttl=True), control))
        self.assertFalse(stream_poller.wanted(stream_record("WEBHOOK#evt_1", ttl=True), control))

    def test_the_data_table_passes_every_change_but_expiries(self):
        data = self.filters["data"]
        self.assertTrue(stream_poller.wanted(stream_record("01JB8Z4K2M6Q9R3T5V7W9XAAAA#PRODUCT#0"), data))
        self.assertFalse(stream_poller.wanted(stream_record("01JB8Z4K2M6Q9R3T5V7W9XAAAA#PRODUCT#0", ttl=True), data))

    def test_no_filters_pass_everything(self):
        self.assertTrue(stream_poller.wanted(stream_record("OUTBOX#x", ttl=True), None))


class PutEvents(unittest.TestCase):
    def entry(self, **changes):
        entry = {"Source": "tenantry", "DetailType": "product.created", "Detail": '{"a": 1}',
                 "EventBusName": "tenantry-local-events"}
        entry.update(changes)
        return {key: value for key, value in entry.items() if value is not None}

    def test_one_to_ten_entries_and_256_kb(self):
        self.assertEqual(len(bus_standin.check_request({"Entries": [self.entry()] * 10})), 10)
        for body in ({"Entries": []}, {"Entries": [self.entry()] * 11}, {}, {"Entries": "x"},
                     {"Entries": [self.entry(Detail=json.dumps({"x": "y" * 262144}))]}):
            with self.subTest(body=str(body)[:60]), self.assertRaises(bus_standin.Rejected) as caught:
                bus_standin.check_request(body)
            self.assertEqual(caught.exception.error_type, "ValidationException")

    def test_entry_checks(self):
        self.assertEqual(bus_standin.check_entry(self.entry()), (None, {"a": 1}))
        for field in ("Source", "DetailType", "Detail"):
            code, message = bus_standin.check_entry(self.entry(**{field: None}))
            self.assertEqual(code, "InvalidArgument")
            self.assertIn(field, message)
        for detail in ("[1]", '"text"', "{not json", "3"):
            self.assertEqual(bus_standin.check_entry(self.entry(Detail=detail))[0], "MalformedDetail")
        self.assertEqual(bus_standin.check_entry(self.entry(Resources="arn"))[0], "InvalidArgument")

    def test_bus_names(self):
        self.assertEqual(bus_standin.bus_name(None), "default")
        self.assertEqual(bus_standin.bus_name("b"), "b")
        self.assertEqual(bus_standin.bus_name("arn:aws:events:us-east-1:123456789012:event-bus/b"), "b")

    def test_delivered_event(self):
        entry = self.entry(Time=1767225600.5, Resources=["r"])
        event = bus_standin.delivered_event(entry, {"a": 1}, "id-1", "123456789012", "us-east-1")
        self.assertEqual(event, {"version": "0", "id": "id-1", "detail-type": "product.created", "source": "tenantry",
                                 "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
                                 "resources": ["r"], "detail": {"a": 1}})

    def test_put_events_records_and_routes(self):
        config = {"buses": ["tenantry-local-events"], "rules": [
            {"name": "Products", "bus": "arn:aws:events:us-east-1:123456789012:event-bus/tenantry-local-events",
             "pattern": {"detail-type": [{"prefix": "product."}]}, "functions": ["webhook-deliver"]},
            {"name": "Other", "bus": "default", "pattern": {"source": ["tenantry"]}, "functions": ["other"]}]}
        with tempfile.TemporaryDirectory() as directory:
            events_file = os.path.join(directory, "bus.jsonl")
            bus = bus_standin.Bus(events_file, config, "http://127.0.0.1:9", "123456789012", "us-east-1")
            answer = bus.put_events({"Entries": [self.entry(), self.entry(Detail="[]"), self.entry(DetailType="order.x")]})
            self.assertEqual(answer["FailedEntryCount"], 1)
            self.assertEqual([sorted(e) for e in answer["Entries"]],
                             [["EventId"], ["ErrorCode", "ErrorMessage"], ["EventId"]])
            with open(events_file) as recorded:
                lines = [json.loads(line) for line in recorded]
        self.assertEqual([line["detail-type"] for line in lines], ["product.created", "order.x"])
        self.assertEqual(lines[0]["event-bus-name"], "tenantry-local-events")
        self.assertEqual(lines[0]["id"], answer["Entries"][0]["EventId"])
        rule, function, event = bus.deliveries.get_nowait()
        self.assertEqual((rule, function, event["id"]), ("Products", "webhook-deliver", lines[0]["id"]))
        self.assertNotIn("event-bus-name", event)
        self.assertTrue(bus.deliveries.empty())

    def test_an_unsupported_rule_stops_the_stand_in(self):
        config = {"rules": [{"name": "R", "bus": "default", "pattern": {"source": [{"numeric": ["=", 1]}]},
                             "functions": []}]}
        with self.assertRaises(SystemExit):
            bus_standin.Bus("/dev/null", config, "", "123456789012", "us-east-1")


class StreamAnswers(unittest.TestCase):
    SEQUENCE = ["101", "102", "103"]

    def judge(self, body, status=200, function_error=None):
        return stream_poller.judge(status, function_error, body, self.SEQUENCE)[0]

    def test_success(self):
        for body in (b"", b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}'):
            with self.subTest(body=body):
                self.assertIsNone(self.judge(body))

    def test_reported_failures_resend_from_the_earliest(self):
        self.assertEqual(self.judge(b'{"batchItemFailures": [{"itemIdentifier": "102"}]}'), 1)
        self.assertEqual(self.judge(b'{"batchItemFailures": [{"itemIdentifier": "103"}, {"itemIdentifier": "102"}]}'), 1)

    def test_whole_batch_failures(self):
        for body, status, function_error in ((b"oops", 500, None), (b'{"errorType": "E", "errorMessage": "m"}', 200, None),
                                             (b'{"x": 1}', 200, "Unhandled"), (b'"ok"', 200, None), (b"{", 200, None),
                                             (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', 200, None),
                                             (b'{"batchItemFailures": [{"itemIdentifier": null}]}', 200, None),
                                             (b'{"batchItemFailures": [{"itemIdentifier": "999"}]}', 200, None),
                                             (b'{"batchItemFailures": {"itemIdentifier": "102"}}', 200, None)):
            with self.subTest(body=body):
                self.assertEqual(self.judge(body, status, function_error), 0)

    def test_without_report_batch_item_failures_only_errors_fail(self):
        judge = stream_poller.judge
        self.assertEqual(judge(200, None, b'{"batchItemFailures": [{"itemIdentifier": "102"}]}', self.SEQUENCE,
                               report_failures=False)[0], None)
        self.assertIn("ignored", judge(200, None, b'{"batchItemFailures": [{"itemIdentifier": "102"}]}',
                                       self.SEQUENCE, report_failures=False)[1])
        self.assertIsNone(judge(200, None, b"not json", self.SEQUENCE, report_failures=False)[0])
        self.assertEqual(judge(200, None, b'{"errorType": "E", "errorMessage": "m"}', self.SEQUENCE,
                               report_failures=False)[0], 0)
        self.assertEqual(judge(502, None, b"", self.SEQUENCE, report_failures=False)[0], 0)

    def test_lambda_record(self):
        record = {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.0", "eventSource": "aws:dynamodb",
                  "awsRegion": "us-east-1", "dynamodb": {"SequenceNumber": "101", "Keys": {"pk": {"S": "a"}}}}
        delivered = stream_poller.lambda_record(record, "arn:stream")
        self.assertEqual(delivered["eventVersion"], "1.1")
        self.assertEqual(delivered["eventSourceARN"], "arn:stream")
        self.assertEqual(delivered["dynamodb"], record["dynamodb"])


class NewStreams(unittest.TestCase):
    def test_a_table_created_while_polling_is_read_from_its_start_only_after_the_delay(self):
        poller = stream_poller.Poller("http://127.0.0.1:9", "http://127.0.0.1:9", "f", 100, True,
                                      new_stream_delay=10.0)
        there = poller.found("arn:there", "there")
        poller.started = True
        new = poller.found("arn:new", "new")
        self.assertLessEqual(there.readable_at, time.monotonic())
        self.assertGreater(new.readable_at, time.monotonic() + 9)
        # Not readable yet: nothing is asked of the (unreachable) endpoints.
        self.assertFalse(poller.poll(new))
        self.assertTrue(new.idle)
        self.assertEqual(new.shards, {})


class Receiver(unittest.TestCase):
    SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()

    def signed(self, body, secret=SECRET, stamp=None):
        stamp = str(int(time.time()) if stamp is None else stamp)
        key = base64.b64decode(secret[len("whsec_"):])
        signature = base64.b64encode(hmac.new(key, f"msg_1.{stamp}.".encode() + body, hashlib.sha256).digest())
        return {"Webhook-Id": "msg_1", "Webhook-Timestamp": stamp, "Webhook-Signature": f"v1,{signature.decode()}"}

    def test_verifies_with_any_secret(self):
        other = "whsec_" + base64.b64encode(b"o" * 32).decode()
        receiver = webhook_receiver.Receiver([other, self.SECRET], "/dev/null")
        body = b'{"type": "product.created"}'
        self.assertEqual(receiver.verify(body, self.signed(body)), {"type": "product.created"})
        for headers in (self.signed(body + b" "), self.signed(body, secret=other.replace("b", "c")),
                        self.signed(body, stamp=int(time.time()) - 3600), {}):
            with self.subTest(headers=headers), self.assertRaises(webhook_receiver.WebhookVerificationError):
                receiver.verify(body, headers)


class FromTheTemplate(unittest.TestCase):
    def doc(self, **resources):
        doc = {"Parameters": {"MigrationDrainSeconds": {"MinValue": 20}},
               "Resources": {"EventBus": {"Type": "AWS::Events::EventBus",
                                          "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-events"}}},
                             "DeliverFunction": {"Type": "AWS::Serverless::Function",
                                                 "Properties": {"CodeUri": "functions/webhook-deliver"}}}}
        doc["Resources"].update(resources)
        return doc

    def refs(self, doc):
        return local_stack.local_refs(doc, {}, {"stripe": 1, "console": 2})

    def test_buses_resolve(self):
        refs = self.refs(self.doc())
        self.assertEqual(refs["EventBus"], "tenantry-local-events")
        bus_arn = {"Fn::GetAtt": ["EventBus", "Arn"]}
        self.assertEqual(template.resolve(bus_arn, local_stack.STACK_NAME, refs),
                         "arn:aws:events:us-east-1:123456789012:event-bus/tenantry-local-events")
        self.assertNotIn("WebhookUrlPolicy", refs)

    def test_webhook_url_policy_is_loopback_http_when_the_template_has_it(self):
        doc = self.doc()
        doc["Parameters"]["WebhookUrlPolicy"] = {"Type": "String", "Default": "https-public"}
        self.assertEqual(self.refs(doc)["WebhookUrlPolicy"], "loopback-http")

    def test_rules_of_both_forms(self):
        doc = self.doc(
            Rule={"Type": "AWS::Events::Rule", "Properties": {
                "EventBusName": {"Ref": "EventBus"}, "EventPattern": {"source": ["tenantry"]},
                "Targets": [{"Id": "deliver", "Arn": {"Fn::GetAtt": ["DeliverFunction", "Arn"]}},
                            {"Id": "queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}]}},
            Schedule={"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)"}},
            Off={"Type": "AWS::Events::Rule", "Properties": {"State": "DISABLED", "EventPattern": {"source": ["x"]}}},
            SamFunction={"Type": "AWS::Serverless::Function", "Properties": {
                "CodeUri": "functions/other", "Events": {"Products": {"Type": "EventBridgeRule", "Properties": {
                    "EventBusName": {"Fn::GetAtt": ["EventBus", "Arn"]},
                    "Pattern": json.dumps({"detail-type": [{"prefix": "product."}]})}}}}})
        config = local_stack.event_rules(doc, self.refs(doc))
        self.assertEqual(config["buses"], ["tenantry-local-events"])
        self.assertEqual(config["undelivered"], ["Rule/queue"])
        self.assertEqual(config["rules"], [
            {"name": "Rule", "bus": "tenantry-local-events", "pattern": {"source": ["tenantry"]},
             "functions": ["webhook-deliver"]},
            {"name": "SamFunction.Products", "bus": "arn:aws:events:us-east-1:123456789012:event-bus/tenantry-local-events",
             "pattern": {"detail-type": [{"prefix": "product."}]}, "functions": ["other"]}])

    def test_an_input_transformer_is_refused(self):
        doc = self.doc(Rule={"Type": "AWS::Events::Rule", "Properties": {
            "EventPattern": {"source": ["tenantry"]},
            "Targets": [{"Id": "deliver", "Arn": {"Fn::GetAtt": ["DeliverFunction", "Arn"]},
                         "InputTransformer": {"InputTemplate": "{}"}}]}})
        with self.assertRaises(local_stack.StackError):
            local_stack.event_rules(doc, self.refs(doc))

    def test_stream_mapping(self):
        tables = {"DataTable": "t-data", "ControlTable": "t-control"}
        self.assertIsNone(local_stack.stream_mapping(self.doc(), tables))
        stream = {"Stream": {"Fn::GetAtt": ["DataTable", "StreamArn"]}, "StartingPosition": "TRIM_HORIZON",
                  "FunctionResponseTypes": ["ReportBatchItemFailures"]}
        events = {"Data": {"Type": "DynamoDB", "Properties": dict(stream, BatchSize=50)},
                  "Control": {"Type": "DynamoDB", "Properties": dict(
                      stream, Stream={"Fn::GetAtt": ["ControlTable", "StreamArn"]},
                      FilterCriteria={"Filters": [{"Pattern": '{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "T"}]}}}}'}]})}}
        doc = self.doc(EventsFunction={"Type": "AWS::Serverless::Function",
                                       "Metadata": {"BuildProperties": {"Binary": local_stack.STREAM_FUNCTION}},
                                       "Properties": {"CodeUri": "functions/webhooks-api", "Events": events}})
        filters = {"t-control": [{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "T"}]}}}}]}
        self.assertEqual(local_stack.stream_mapping(doc, tables),
                         {"batch_size": 50, "report_failures": True, "filters": filters})
        del events["Control"]["Properties"]["FunctionResponseTypes"]
        self.assertEqual(local_stack.stream_mapping(doc, tables),
                         {"batch_size": 50, "report_failures": False, "filters": filters})

    def test_the_template_as_it_is(self):
        doc = template.load()
        config = local_stack.event_rules(doc, local_stack.local_refs(doc, {}, local_stack.DEFAULT_PORTS))
        for rule in config["rules"]:
            bus_standin.check_pattern(rule["pattern"])
        requests = {logical_id: request for logical_id, request, _ in local_tables.table_requests("s")}
        for table in ("DataTable", "ControlTable"):
            self.assertEqual(requests[table]["StreamSpecification"],
                             {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})


if __name__ == "__main__":
    unittest.main()


class MotoStreams(unittest.TestCase):
    """moto_serialized's repairs of moto's streams, in-process (no server)."""

    def test_an_iterator_keeps_reading_after_a_failed_transaction(self):
        import boto3
        import moto
        import moto_serialized  # noqa: F401 (its patches)

        with moto.mock_aws():
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            streams = boto3.client("dynamodbstreams", region_name="us-east-1")
            dynamodb.create_table(
                TableName="t", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
            arn = dynamodb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            position = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            dynamodb.put_item(TableName="t", Item={"pk": {"S": "a"}})
            read = streams.get_records(ShardIterator=position)
            self.assertEqual([r["eventName"] for r in read["Records"]], ["INSERT"])
            # A transaction whose condition fails: moto puts back a copy of the table.
            with self.assertRaises(dynamodb.exceptions.TransactionCanceledException):
                dynamodb.transact_write_items(TransactItems=[{"Put": {
                    "TableName": "t", "Item": {"pk": {"S": "a"}},
                    "ConditionExpression": "attribute_not_exists(pk)"}}])
            # A transaction whose first write is applied before its second fails: rolled back,
            # it leaves no record in the stream.
            with self.assertRaises(dynamodb.exceptions.TransactionCanceledException):
                dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "phantom"}}}},
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}},
                             "ConditionExpression": "attribute_not_exists(pk)"}}])
            dynamodb.put_item(TableName="t", Item={"pk": {"S": "b"}})
            after = streams.get_records(ShardIterator=read["NextShardIterator"])
            self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in after["Records"]], ["b"])
            self.assertNotIn("Item", dynamodb.get_item(TableName="t", Key={"pk": {"S": "phantom"}}))
