"""The console's rollback (scripts/console_rollback.py) against moto: a versioned bucket holding
three publications, a distribution, and the stack's outputs naming them.

    .venv/bin/python -m unittest discover -s scripts -p 'test_console_rollback.py'
"""

import io
import json
import logging
import os
import pathlib
import sys
import unittest
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

import console_rollback  # noqa: E402

REGION = "eu-west-1"
STACK = "tenantry"  # samconfig.toml's prod
BUCKET = "tenantry-consolebucket-abc"


class ConsoleRollback(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        cls.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        cls.server.start()
        host, port = cls.server.get_host_and_port()
        cls.url = f"http://{host}:{port}"
        cls.environment = dict(os.environ)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_CONFIG_FILE=os.devnull,
                          AWS_SHARED_CREDENTIALS_FILE=os.devnull)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        os.environ.clear()
        os.environ.update(cls.environment)

    def aws(self, service):
        return boto3.client(service, region_name=REGION, endpoint_url=self.url)

    def setUp(self):
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")).read()
        s3 = self.aws("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for n in (1, 2, 3):
            s3.put_object(Bucket=BUCKET, Key="index.html", Body=f"<script src=/assets/index-{n}.js></script>".encode(),
                          ContentType="text/html", CacheControl="no-cache")
        self.distribution = self.aws("cloudfront").create_distribution(DistributionConfig={
            "CallerReference": "console", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "console", "DomainName": f"{BUCKET}.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "console", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]["Id"]
        self.aws("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps({
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {"ConsoleBucketName": {"Value": BUCKET}, "ConsoleDistributionId": {"Value": self.distribution}}}))

    def rollback(self, *args):
        out = io.StringIO()
        status = console_rollback.main(["--env", "prod", "--endpoint-url", self.url, *args], out)
        return status, out.getvalue()

    def page(self):
        return self.aws("s3").get_object(Bucket=BUCKET, Key="index.html")

    def test_the_previous_publication_comes_back_and_cloudfront_drops_its_copy(self):
        status, text = self.rollback()
        self.assertEqual(status, 0, text)
        page = self.page()
        self.assertIn(b"index-2.js", page["Body"].read())
        self.assertEqual(page["CacheControl"], "no-cache")
        invalidations = self.aws("cloudfront").list_invalidations(DistributionId=self.distribution)
        self.assertEqual(invalidations["InvalidationList"]["Quantity"], 1)

    def test_further_back_and_undone(self):
        status, text = self.rollback("--steps", "2")
        self.assertEqual(status, 0, text)
        self.assertIn(b"index-1.js", self.page()["Body"].read())
        # The rollback was a publication too: one step back is the one it replaced.
        status, text = self.rollback()
        self.assertEqual(status, 0, text)
        self.assertIn(b"index-3.js", self.page()["Body"].read())

    def test_listing_changes_nothing_and_too_far_back_is_refused(self):
        status, text = self.rollback("--list")
        self.assertEqual(status, 0)
        self.assertEqual(text.count("\n"), 3)
        self.assertIn("(current)", text.splitlines()[0])
        status, text = self.rollback("--steps", "3")
        self.assertEqual(status, 1)
        self.assertIn("cannot go 3 back", text)
        self.assertIn(b"index-3.js", self.page()["Body"].read())


if __name__ == "__main__":
    unittest.main()
