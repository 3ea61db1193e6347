"""The preflight (scripts/preflight.py) against moto: an account prepared as docs/OPERATIONS.md
says passes, and each thing a first deploy would trip on fails, naming it. What moto does not
serve (SES's sandbox status, Lambda's concurrency quota) must come out as "not checked", never
as ok.

    .venv/bin/python -m unittest discover -s scripts -p 'test_preflight.py'
"""

import contextlib
import datetime
import io
import json
import logging
import os
import pathlib
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import boto3  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

import preflight  # noqa: E402
import set_stack_policy  # noqa: E402

REGION = "eu-west-1"
DOMAIN = "tenantry-ci.net"


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(*names):
    """A self-signed certificate for the names, valid a year (what ACM imports)."""
    key = KEY
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


class Preflight(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Any credentials do for moto; the developer's own must not be used (nor be needed).
        cls.environment = dict(os.environ)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(name, None)
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                          AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        cls.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        cls.server.start()
        host, port = cls.server.get_host_and_port()
        cls.url = f"http://{host}:{port}"
        cls.tmp = tempfile.TemporaryDirectory()
        cls.srp_console = pathlib.Path(cls.tmp.name) / "auth-srp.ts"
        cls.srp_console.write_text('const flow = "USER_SRP_AUTH"\n')
        cls.password_console = pathlib.Path(cls.tmp.name) / "auth-password.ts"
        cls.password_console.write_text('const flow = "USER_PASSWORD_AUTH"\n')

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()
        os.environ.clear()
        os.environ.update(cls.environment)

    def setUp(self):
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")).read()
        self.values = self.prepare_account()

    def aws(self, service, region=REGION):
        return boto3.client(service, region_name=region, endpoint_url=self.url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def prepare_account(self):
        """What docs/OPERATIONS.md has an operator do before the first deploy, in moto."""
        ssm = self.aws("ssm")
        ssm.put_parameter(Name="/tenantry/stripe/api-key", Type="SecureString", Value="sk_live_abc")
        ssm.put_parameter(Name="/tenantry/stripe/webhook-secrets", Type="SecureString", Value="whsec_new,whsec_old")
        self.aws("ses").verify_domain_identity(Domain=DOMAIN)
        cert, key = certificate(f"console.{DOMAIN}")
        console_cert = self.aws("acm", "us-east-1").import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        cert, key = certificate(f"api.{DOMAIN}", f"machine.{DOMAIN}")
        api_cert = self.aws("acm").import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        zone = self.aws("route53", "us-east-1").create_hosted_zone(Name=DOMAIN, CallerReference="preflight")
        acl = self.aws("wafv2", "us-east-1").create_web_acl(
            Name="console", Scope="CLOUDFRONT", DefaultAction={"Allow": {}},
            VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "console"})
        return {"MailFrom": f"no-reply@{DOMAIN}", "AlertEmail": f"oncall@{DOMAIN}",
                "ConsoleDomain": f"console.{DOMAIN}", "ConsoleCertificateArn": console_cert,
                "ApiDomain": f"api.{DOMAIN}", "MachineApiDomain": f"machine.{DOMAIN}", "ApiCertificateArn": api_cert,
                "HostedZoneId": zone["HostedZone"]["Id"].split("/")[-1], "ConsoleWebAclArn": acl["Summary"]["ARN"]}

    def run_preflight(self, env="prod", config=None, console=None, strict=False, **changes):
        values = dict(self.values, **changes)
        overrides = " ".join(f"{k}={v}" for k, v in values.items() if v is not None)
        argv = ["--env", env, "--endpoint-url", self.url, "--parameter-overrides", overrides]
        if config:
            argv += ["--config", str(config)]
        if strict:
            argv.append("--strict")
        out = io.StringIO()
        original = preflight.CONSOLE_AUTH
        preflight.CONSOLE_AUTH = console or self.srp_console
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                status = preflight.main(argv, out)
        finally:
            preflight.CONSOLE_AUTH = original
        return status, out.getvalue()

    def lines(self, text, status):
        return [line.strip() for line in text.splitlines() if line.strip().startswith(status)]

    def assertLine(self, text, status, *parts):
        found = [line for line in self.lines(text, status) if all(part in line for part in parts)]
        self.assertTrue(found, f"no {status} line with {parts} in:\n{text}")

    # ------------------------------------------------------------ a prepared account
    def test_a_prepared_account_passes_and_says_what_it_could_not_check(self):
        status, text = self.run_preflight()
        self.assertEqual(status, 0, text)
        self.assertEqual(self.lines(text, "FAIL"), [], text)
        for what in ("parameters", "the template's rules", "the account", "names", "feature plan", "console sign-in",
                     "the stack", "SSM /tenantry/stripe/api-key", "SSM /tenantry/stripe/webhook-secrets",
                     "SES identity", "SES quota", "SES configuration set", "console certificate", "API certificate",
                     "console firewall", "hosted zone", "API Gateway logging role", "names taken"):
            self.assertLine(text, "ok", what)
        # moto serves neither: said so, with what to do, never passed.
        self.assertLine(text, "not checked", "SES sandbox", "get_account", "200 messages a day")
        self.assertLine(text, "not checked", "Lambda concurrency", "get_account_settings", "at least 136")
        self.assertLine(text, "not checked", "Stripe")
        self.assertRegex(text, r"\d+ ok, 0 failed, \d+ not checked")

    def test_strict_fails_on_what_could_not_be_checked(self):
        status, text = self.run_preflight(strict=True)
        self.assertEqual(status, 2, text)
        self.assertIn("some checks could not run", text)

    # ------------------------------------------------------------ the values
    def test_a_value_without_default_must_be_given(self):
        status, text = self.run_preflight(MailFrom=None, AlertEmail=None)
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "parameters", "MailFrom has no value")
        self.assertLine(text, "FAIL", "parameters", "AlertEmail has no value")

    def test_example_and_reserved_domains_are_refused(self):
        for name, value in (("MailFrom", "no-reply@tenantry.example"), ("ConsoleDomain", "console.tenantry.example"),
                            ("AlertEmail", "ops@example.com"), ("ApiDomain", "api.example.org")):
            with self.subTest(name=name):
                status, text = self.run_preflight(**{name: value})
                self.assertEqual(status, 1)
                self.assertLine(text, "FAIL", "parameters", f"{name}={value!r}")

    def test_an_unknown_parameter_is_a_typo(self):
        status, text = self.run_preflight(ConsoleDomian=f"console.{DOMAIN}")
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "ConsoleDomian is not a parameter")

    def test_prod_needs_its_own_domains(self):
        status, text = self.run_preflight(ConsoleDomain=None, ConsoleCertificateArn=None, ConsoleUrl="https://d1.cloudfront.net")
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "rule ProductionHasItsOwnDomains", "ConsoleDomain")

    def test_dev_may_deploy_first_with_the_placeholder_address(self):
        bare = {name: None for name in self.values if name not in ("MailFrom", "AlertEmail")}
        status, text = self.run_preflight(env="dev", ConsoleUrl="https://pending.invalid", **bare)
        self.assertEqual(status, 0, text)
        self.assertLine(text, "ok", "console address", "placeholder")
        status, text = self.run_preflight(env="dev", **bare)
        self.assertLine(text, "FAIL", "rule ConsoleAddressKnown")

    # ------------------------------------------------------------ the account
    def test_missing_secret_and_a_test_key_in_prod_fail(self):
        ssm = self.aws("ssm")
        ssm.delete_parameter(Name="/tenantry/stripe/webhook-secrets")
        ssm.put_parameter(Name="/tenantry/stripe/api-key", Type="SecureString", Value="sk_test_abc", Overwrite=True)
        status, text = self.run_preflight()
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "SSM /tenantry/stripe/webhook-secrets", "missing")
        self.assertLine(text, "FAIL", "SSM /tenantry/stripe/api-key", "live keys")
        self.assertNotIn("sk_test_abc", text)

    def test_a_plain_string_is_not_a_secret(self):
        self.aws("ssm").put_parameter(Name="/tenantry/stripe/api-key", Type="String", Value="sk_live_abc", Overwrite=True)
        status, text = self.run_preflight()
        self.assertLine(text, "FAIL", "SSM /tenantry/stripe/api-key", "not a SecureString")

    def test_an_unverified_sender_fails(self):
        status, text = self.run_preflight(MailFrom="no-reply@elsewhere-ci.net")
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "SES identity", "elsewhere-ci.net")

    def test_a_certificate_must_cover_its_domains_and_be_in_its_region(self):
        status, text = self.run_preflight(MachineApiDomain=f"integrations.{DOMAIN}")
        self.assertLine(text, "FAIL", "API certificate", f"does not cover integrations.{DOMAIN}")
        status, text = self.run_preflight(ConsoleCertificateArn=self.values["ApiCertificateArn"])
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "parameters", "ConsoleCertificateArn")

    def test_domains_outside_the_hosted_zone_fail(self):
        zone = self.aws("route53", "us-east-1").create_hosted_zone(Name="other-ci.net", CallerReference="other")
        status, text = self.run_preflight(HostedZoneId=zone["HostedZone"]["Id"].split("/")[-1])
        self.assertLine(text, "FAIL", "hosted zone", f"console.{DOMAIN}")

    def test_a_firewall_that_does_not_exist_fails(self):
        arn = self.values["ConsoleWebAclArn"].rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
        status, text = self.run_preflight(ConsoleWebAclArn=arn)
        self.assertLine(text, "FAIL", "console firewall", "WAFNonexistentItemException")
        status, text = self.run_preflight(ConsoleWebAclArn=None)
        self.assertLine(text, "FAIL", "console firewall", "us-east-1 only")

    def test_names_left_by_a_deleted_stack_fail(self):
        self.aws("dynamodb").create_table(
            TableName="tenantry-data", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        self.aws("logs").create_log_group(logGroupName="/aws/lambda/tenantry-products-api")
        status, text = self.run_preflight()
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "names taken", "tenantry-data")
        self.assertLine(text, "FAIL", "names taken", "/aws/lambda/tenantry-products-api")

    def test_a_stack_name_too_long_for_the_function_names_fails(self):
        config = pathlib.Path(self.tmp.name) / "samconfig.toml"
        config.write_text('version = 0.1\n[prod.global.parameters]\nstack_name = "tenantry-production-europe-west-customers-0001"\n'
                          'region = "eu-west-1"\n[prod.deploy.parameters]\nparameter_overrides = "Environment=prod"\n')
        status, text = self.run_preflight(config=config)
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "names", "tenantry-production-europe-west-customers-0001-pre-token-generation", "more than 64")

    def test_the_console_must_sign_in_with_srp_in_prod(self):
        status, text = self.run_preflight(console=self.password_console)
        self.assertEqual(status, 1)
        self.assertLine(text, "FAIL", "console sign-in", "USER_SRP_AUTH")

    def test_an_existing_stack_needs_its_policy_in_prod(self):
        cloudformation = self.aws("cloudformation")
        cloudformation.create_stack(StackName="tenantry", TemplateBody=json.dumps(
            {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}))
        status, text = self.run_preflight()
        self.assertLine(text, "ok", "the stack", "CREATE_COMPLETE")
        self.assertLine(text, "FAIL", "stack policy", "make stack-policy")
        with contextlib.redirect_stdout(io.StringIO()):
            set_stack_policy.main(["--env", "prod", "--endpoint-url", self.url])
        status, text = self.run_preflight()
        self.assertLine(text, "ok", "stack policy")
        self.assertEqual(self.lines(text, "FAIL"), [], text)


class StackPolicy(unittest.TestCase):
    def test_it_refuses_replacing_or_deleting_what_the_template_retains(self):
        policy = json.loads(preflight.STACK_POLICY.read_text())
        denied = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        protected = {r.split("/", 1)[1] for s in denied for r in s["Resource"]}
        self.assertEqual({a for s in denied for a in s["Action"]}, {"Update:Replace", "Update:Delete"})
        resources = preflight.template.load()["Resources"]
        for name in protected:
            self.assertIn(name, resources)
            self.assertEqual(resources[name].get("DeletionPolicy"), "Retain", name)
            self.assertEqual(resources[name].get("UpdateReplacePolicy"), "Retain", name)
        self.assertEqual(protected, {"UserPool", "DataTable", "ControlTable"})


if __name__ == "__main__":
    unittest.main()
