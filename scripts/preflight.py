#!/usr/bin/env python3
"""Checks, before `sam deploy`, what the stack needs of the account and of its own settings:
the environment's parameters (samconfig.toml) against the template's patterns and rules, the
names the stack name makes, the SSM SecureStrings, the SES identity and sandbox, the
certificates, hosted zone and CloudFront firewall the domains need, the Lambda concurrency the
reserved functions take, API Gateway's logging role, and what a deleted stack left behind.

    preflight.py --env prod [--parameter-overrides "K=V ..."] [--endpoint-url URL] [--strict]

Each line says ok, FAIL, or "not checked" and why (a call the endpoint does not serve, or
refuses). Exit status: 1 if anything failed; with --strict (what `make preflight` uses against
AWS) 2 if something could not be checked; else 0. Nothing is changed in the account. Against
moto (--endpoint-url), the calls moto does not serve are reported as not checked.
"""

import argparse
import datetime
import fnmatch
import json
import pathlib
import re
import sys

import boto3
import botocore.exceptions

import samconfig
import template

ROOT = pathlib.Path(__file__).resolve().parent.parent
STACK_POLICY = ROOT / "stack-policy.json"
CONSOLE_AUTH = ROOT / "console" / "src" / "auth.ts"
UNKNOWN_ACCOUNT = "000000000000"
# Lambda keeps this much of an account's concurrency unreserved.
UNRESERVED_MINIMUM = 100
# What AWS limits the names this template gives to (characters, and the pattern where one applies).
NAME_LIMITS = {
    ("AWS::Serverless::Function", "FunctionName"): (64, r"[A-Za-z0-9_-]+"),
    ("AWS::IAM::Role", "RoleName"): (64, r"[\w+=,.@-]+"),
    ("AWS::SQS::Queue", "QueueName"): (80, r"[A-Za-z0-9_-]+"),
    ("AWS::DynamoDB::Table", "TableName"): (255, r"[A-Za-z0-9_.-]{3,}"),
    ("AWS::Logs::LogGroup", "LogGroupName"): (512, r"[.\-_/#A-Za-z0-9]+"),
    ("AWS::Cognito::UserPool", "UserPoolName"): (128, None),
    ("AWS::Cognito::UserPoolClient", "ClientName"): (128, None),
    ("AWS::Cognito::UserPoolDomain", "Domain"): (63, r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"),
    ("AWS::Events::EventBus", "Name"): (256, r"[/\.\-_A-Za-z0-9]+"),
    ("AWS::SES::ConfigurationSet", "Name"): (64, r"[A-Za-z0-9_-]+"),
    ("AWS::WAFv2::WebACL", "Name"): (128, r"[\w-]+"),
    ("AWS::CloudFront::Function", "Name"): (64, r"[a-zA-Z0-9-_]+"),
    ("AWS::CloudFront::OriginAccessControl", "OriginAccessControlConfig.Name"): (64, None),
    ("AWS::CloudFront::ResponseHeadersPolicy", "ResponseHeadersPolicyConfig.Name"): (128, r"[A-Za-z0-9_-]+"),
    ("AWS::SNS::Topic", "TopicName"): (256, r"[A-Za-z0-9_-]+"),
    ("AWS::CloudWatch::Alarm", "AlarmName"): (255, None),
}
# The silo tables are named <prefix><tenant id> (a ULID, 26 characters).
TENANT_ID_LENGTH = 26
NEVER_CHECKED = [
    "Stripe: the prices' lookup keys and the webhook endpoint at <ApiUrl>/billing/webhook (Stripe's dashboard)",
    "that the domains' DNS is delegated to the hosted zone, and the certificates' validation records stay (public DNS)",
    "that AlertEmail's subscription to the alarm topic is confirmed (only after the deploy: its first message)",
    "Cognito's right to send through SES (it makes its service-linked role at the deploy, if the deployer may)",
]


class Report:
    def __init__(self, out=sys.stdout):
        self.out = out
        self.counts = {"ok": 0, "FAIL": 0, "not checked": 0}

    def line(self, status, what, detail=""):
        self.counts[status] += 1
        print(f"  {status:<12} {what}{': ' + detail if detail else ''}", file=self.out)

    def ok(self, what, detail=""):
        self.line("ok", what, detail)

    def fail(self, what, detail):
        self.line("FAIL", what, detail)

    def unchecked(self, what, why):
        self.line("not checked", what, why)


class Unserved(Exception):
    """The endpoint does not answer this call (moto lacks it), or refuses us: not checked."""


# Answers that mean "not for us to know" rather than a finding about the account.
REFUSALS = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
            "InvalidClientTokenId", "ExpiredToken", "NotImplemented"}


def call(client, operation, **kwargs):
    """One AWS call: its answer; Unserved when the endpoint cannot or will not answer it (a
    refusal, or an answer without an error code: an endpoint that does not know the call)."""
    try:
        return getattr(client, operation)(**kwargs)
    except botocore.exceptions.ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in REFUSALS or code.isdigit() or not code:
            raise Unserved(f"the endpoint does not answer {operation} ({code or 'no error code'})") from None
        raise
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.NoCredentialsError) as err:
        raise Unserved(str(err)) from None


class Preflight:
    def __init__(self, env, overrides=None, endpoint=None, config=samconfig.SAMCONFIG, doc=None, report=None,
                 console_auth=None):
        self.config = samconfig.load(env, config)
        self.stack = self.config["stack_name"]
        self.region = self.config["region"] or "us-east-1"
        self.values = dict(self.config["parameters"])
        self.values.update(overrides or {})
        self.endpoint = endpoint
        self.doc = doc if doc is not None else template.load()
        self.report = report or Report()
        self.console_auth = console_auth or CONSOLE_AUTH
        self.account = None
        self.stack_exists = None

    # ------------------------------------------------------------ AWS clients
    def client(self, service, region=None):
        return boto3.client(service, region_name=region or self.region, endpoint_url=self.endpoint)

    # ------------------------------------------------------------ what the template resolves to
    def parameters(self):
        """Every parameter's value: the environment's, else the template's default."""
        out = {}
        for name, spec in (self.doc.get("Parameters") or {}).items():
            if name in self.values:
                out[name] = self.values[name]
            elif "Default" in spec:
                out[name] = str(spec["Default"])
        return out

    def refs(self):
        refs = dict(self.parameters())
        refs.update({"AWS::StackName": self.stack, "AWS::Region": self.region, "AWS::Partition": "aws",
                     "AWS::AccountId": self.account or UNKNOWN_ACCOUNT, "AWS::URLSuffix": "amazonaws.com",
                     "AWS::NoValue": None})
        return refs

    def resolve(self, value):
        refs = self.refs()
        return template.resolve(value, self.stack, refs, template.evaluate_conditions(self.doc, refs))

    # ------------------------------------------------------------ the checks
    def run(self):
        print(f"Preflight of the stack {self.stack} ({self.config['env']}) in {self.region}"
              + (f", against {self.endpoint}" if self.endpoint else ""), file=self.report.out)
        if not self.check_parameters():
            self.report.fail("the rest", "skipped: the parameters above must be right first")
            return self.report
        self.check_rules()
        self.who_am_i()
        self.check_names()
        self.check_feature_plan()
        self.check_console_sign_in()
        self.check_console_firewall()
        if self.account:
            self.check_stack()
            self.check_secrets()
            self.check_mail()
            self.check_certificates()
            self.check_hosted_zone()
            self.check_concurrency()
            self.check_api_logging_role()
            if self.stack_exists is False:
                self.check_leftovers()
        for what in NEVER_CHECKED:
            self.report.unchecked(what, "outside what AWS's APIs can say before the deploy")
        return self.report

    def check_parameters(self):
        declared = self.doc.get("Parameters") or {}
        problems = [f"{name} is not a parameter of the template" for name in self.values if name not in declared]
        values = self.parameters()
        for name, spec in declared.items():
            if name not in values:
                problems.append(f"{name} has no value (it has no default: set it in samconfig.toml)")
                continue
            value = values[name]
            if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
                problems.append(f"{name}={value!r} is not one of {', '.join(str(v) for v in spec['AllowedValues'])}")
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
                why = spec.get("ConstraintDescription") or f"does not match {spec['AllowedPattern']}"
                problems.append(f"{name}={value!r}: {why}")
            if spec.get("Type") == "Number":
                try:
                    number = float(value)
                except ValueError:
                    problems.append(f"{name}={value!r} is not a number")
                    continue
                if "MinValue" in spec and number < float(spec["MinValue"]):
                    problems.append(f"{name}={value} is below {spec['MinValue']}")
        if problems:
            for problem in problems:
                self.report.fail("parameters", problem)
            return False
        self.report.ok("parameters", f"{len(values)} values, each allowed by the template (no example domain)")
        if values.get("ConsoleUrl", "").endswith(".invalid") and not values.get("ConsoleDomain"):
            self.report.ok("console address", "the first deploy's placeholder (ConsoleUrl ends in .invalid): deploy again "
                           "with ConsoleUrl set to the ConsoleDistributionUrl output (docs/OPERATIONS.md)")
        return True

    def check_rules(self):
        values = self.parameters()

        def truth(expression):
            (key, arg), = expression.items()
            if key == "Fn::Equals":
                return str(value_of(arg[0])) == str(value_of(arg[1]))
            if key == "Fn::Not":
                return not truth(arg[0])
            if key == "Fn::And":
                return all(truth(a) for a in arg)
            if key == "Fn::Or":
                return any(truth(a) for a in arg)
            raise ValueError(f"the preflight cannot evaluate {key} in the template's Rules")

        def value_of(v):
            return values.get(v["Ref"], "") if isinstance(v, dict) and "Ref" in v else v

        failed = 0
        for name, rule in (self.doc.get("Rules") or {}).items():
            if "RuleCondition" in rule and not truth(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions") or []:
                if not truth(assertion["Assert"]):
                    failed += 1
                    self.report.fail(f"rule {name}", " ".join(str(assertion.get("AssertDescription", "")).split()))
        if not failed:
            self.report.ok("the template's rules", f"{len(self.doc.get('Rules') or {})} rules hold")

    def who_am_i(self):
        try:
            identity = call(self.client("sts"), "get_caller_identity")
        except Unserved as err:
            self.report.unchecked("the account", f"no answer from STS ({err}): nothing in the account is checked")
            return
        self.account = identity["Account"]
        self.report.ok("the account", f"{self.account}, as {identity['Arn']}")

    def check_names(self):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", self.stack):
            self.report.fail("stack name", f"{self.stack!r}: a letter, then letters, digits and hyphens (128 at most)")
            return
        problems, checked = [], 0
        for logical_id, resource in (self.doc.get("Resources") or {}).items():
            props = resource.get("Properties") or {}
            if "Condition" in resource and not template.evaluate_conditions(self.doc, self.refs()).get(resource["Condition"]):
                continue
            for (kind, path), (most, pattern) in NAME_LIMITS.items():
                if resource.get("Type") != kind:
                    continue
                value = props
                for part in path.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None:
                    continue
                name = str(self.resolve(value))
                checked += 1
                if len(name) > most:
                    problems.append(f"{logical_id}: {name!r} is {len(name)} characters, more than {most}")
                elif pattern and not re.fullmatch(pattern, name):
                    problems.append(f"{logical_id}: {name!r} has characters {kind} refuses")
                if kind == "AWS::Cognito::UserPoolDomain" and re.search(r"aws|amazon|cognito", name):
                    problems.append(f"{logical_id}: {name!r} contains a word Cognito reserves (aws, amazon, cognito): "
                                    "set AuthDomainPrefix")
        prefix = (self.doc["Resources"].get("TenantJobsFunction", {}).get("Properties", {})
                  .get("Environment", {}).get("Variables", {}).get("SILO_TABLE_PREFIX"))
        if prefix is not None:
            silo = str(self.resolve(prefix)) + "X" * TENANT_ID_LENGTH
            checked += 1
            if len(silo) > 255:
                problems.append(f"a premium tenant's table would be {len(silo)} characters, more than 255")
        for problem in problems:
            self.report.fail("names", problem)
        if not problems:
            note = "" if self.account else f" (the account id taken as {len(UNKNOWN_ACCOUNT)} digits)"
            self.report.ok("names", f"the {checked} names the stack name {self.stack!r} makes fit AWS's limits{note}")

    def check_feature_plan(self):
        version = self.parameters().get("PreTokenLambdaVersion")
        pool = next((r for r in self.doc["Resources"].values() if r.get("Type") == "AWS::Cognito::UserPool"), None)
        tier = self.resolve(pool["Properties"].get("UserPoolTier", "LITE")) if pool else None
        if version in ("V2_0", "V3_0") and tier not in ("ESSENTIALS", "PLUS"):
            self.report.fail("feature plan", f"pre-token event {version} needs the Essentials or Plus plan; the pool gets {tier}")
        else:
            self.report.ok("feature plan", f"pre-token event {version} on the {tier} plan")

    def check_console_sign_in(self):
        if self.parameters().get("Environment") != "prod":
            return
        source = self.console_auth.read_text() if self.console_auth.exists() else ""
        if "USER_PASSWORD_AUTH" in source and "USER_SRP_AUTH" not in source:
            self.report.fail("console sign-in", "the console signs in with USER_PASSWORD_AUTH, which the production "
                             "client refuses: it must sign in with SRP (USER_SRP_AUTH) before a prod deploy")
        else:
            self.report.ok("console sign-in", "the console signs in with SRP, as the production client requires")

    def check_console_firewall(self):
        values = self.parameters()
        if values.get("ConsoleWebAclArn") or self.region == "us-east-1":
            self.report.ok("console firewall", "given" if values.get("ConsoleWebAclArn") else "made by the stack (us-east-1)")
        elif values.get("Environment") == "prod":
            self.report.fail("console firewall", f"a stack in {self.region} cannot make the console's CloudFront web ACL "
                             "(us-east-1 only): make one there and set ConsoleWebAclArn (docs/OPERATIONS.md)")
        else:
            self.report.ok("console firewall", "none for dev outside us-east-1 (the APIs have theirs)")

    def check_stack(self):
        cloudformation = self.client("cloudformation")
        try:
            stacks = call(cloudformation, "describe_stacks", StackName=self.stack)["Stacks"]
        except Unserved as err:
            self.report.unchecked("the stack", str(err))
            return
        except botocore.exceptions.ClientError as err:
            if "does not exist" not in str(err):
                raise
            stacks = []
        if not stacks:
            self.stack_exists = False
            self.report.ok("the stack", "none yet: this is its first deploy")
            return
        self.stack_exists = True
        status = stacks[0]["StackStatus"]
        if status == "ROLLBACK_COMPLETE":
            self.report.fail("the stack", "ROLLBACK_COMPLETE: its creation failed; delete it before deploying again")
        elif status.endswith("_IN_PROGRESS"):
            self.report.fail("the stack", f"{status}: wait for it")
        elif status.endswith("_FAILED"):
            self.report.fail("the stack", f"{status}: see its events before deploying again")
        else:
            self.report.ok("the stack", status)
        try:
            policy = call(cloudformation, "get_stack_policy", StackName=self.stack).get("StackPolicyBody")
        except Unserved as err:
            self.report.unchecked("stack policy", str(err))
            return
        wanted = json.loads(STACK_POLICY.read_text())
        if policy and json.loads(policy) == wanted:
            self.report.ok("stack policy", "stack-policy.json is set: the pool and the tables cannot be replaced")
        elif self.parameters().get("Environment") == "prod":
            self.report.fail("stack policy", "stack-policy.json is not the stack's policy: make stack-policy ENV=...")
        else:
            self.report.ok("stack policy", "not set (dev); make stack-policy ENV=dev sets it")

    def check_secrets(self):
        ssm = self.client("ssm")
        values = self.parameters()
        prod = values.get("Environment") == "prod"
        for parameter, prefixes in (("StripeApiKeyParameter", ("sk_live_", "rk_live_") if prod else ("sk_", "rk_")),
                                    ("StripeWebhookSecretsParameter", ("whsec_",))):
            name = values[parameter]
            try:
                found = call(ssm, "describe_parameters",
                             ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"]
            except Unserved as err:
                self.report.unchecked(f"SSM {name}", str(err))
                continue
            if not found:
                self.report.fail(f"SSM {name}", "missing: aws ssm put-parameter --type SecureString --name "
                                 f"{name} --value ... (docs/OPERATIONS.md)")
                continue
            if found[0].get("Type") != "SecureString":
                self.report.fail(f"SSM {name}", f"a {found[0].get('Type')}, not a SecureString")
                continue
            try:
                value = call(ssm, "get_parameter", Name=name, WithDecryption=True)["Parameter"]["Value"]
            except Unserved as err:
                self.report.unchecked(f"SSM {name}", f"exists as a SecureString; its value could not be read ({err})")
                continue
            # The value is only looked at, never printed.
            if not all(part.strip().startswith(prefixes) for part in value.split(",")):
                self.report.fail(f"SSM {name}", f"a SecureString whose value does not start with {' or '.join(prefixes)}"
                                 + (" (prod takes Stripe's live keys)" if prod and parameter == "StripeApiKeyParameter" else ""))
            else:
                self.report.ok(f"SSM {name}", "a SecureString of the expected form")

    def check_mail(self):
        values = self.parameters()
        sender = values["MailFrom"]
        identity = values.get("MailIdentity") or sender.split("@", 1)[1]
        if "@" in identity and identity.lower() != sender.lower():
            self.report.fail("SES identity", f"MailFrom {sender} is not the address identity {identity}")
        elif "@" not in identity and sender.split("@", 1)[1].lower() != identity.lower():
            self.report.fail("SES identity", f"MailFrom {sender} is not in the domain {identity}")
        ses = self.client("ses")
        try:
            attributes = call(ses, "get_identity_verification_attributes", Identities=[identity])["VerificationAttributes"]
        except Unserved as err:
            self.report.unchecked("SES identity", str(err))
        else:
            status = attributes.get(identity, {}).get("VerificationStatus")
            if status == "Success":
                self.report.ok("SES identity", f"{identity} is verified in {self.region}")
            else:
                self.report.fail("SES identity", f"{identity} is {'not an identity' if status is None else status} in "
                                 f"{self.region}: verify it (DKIM records for a domain) before deploying")
        sesv2 = self.client("sesv2")
        try:
            account = call(sesv2, "get_account")
        except Unserved as err:
            self.report.unchecked("SES sandbox", f"{err}. Leave the sandbox before customers sign up: a sandbox sends "
                                  "200 messages a day, to verified addresses only (docs/OPERATIONS.md)")
        else:
            if not account.get("SendingEnabled", True):
                self.report.fail("SES sending", "sending is paused for this account (SES's review)")
            if account.get("ProductionAccessEnabled"):
                self.report.ok("SES sandbox", "out of it (production access)")
            elif values.get("Environment") == "prod":
                self.report.fail("SES sandbox", "the account is in SES's sandbox: ask for production access "
                                 "(docs/OPERATIONS.md) - codes would reach verified addresses only, 200 a day")
            else:
                self.report.ok("SES sandbox", "in it (dev): mail reaches verified addresses only")
        try:
            quota = call(ses, "get_send_quota")
            self.report.ok("SES quota", f"{quota.get('Max24HourSend'):.0f} messages a day, {quota.get('MaxSendRate'):.0f} a second")
        except Unserved as err:
            self.report.unchecked("SES quota", str(err))
        set_name = f"{self.stack}-mail"
        if self.stack_exists is False:
            try:
                call(sesv2, "get_configuration_set", ConfigurationSetName=set_name)
                self.report.fail("SES configuration set", f"{set_name} exists already (left by a deleted stack?): "
                                 "delete it or choose another stack name")
            except Unserved as err:
                self.report.unchecked("SES configuration set", str(err))
            except botocore.exceptions.ClientError as err:
                if err.response["Error"]["Code"] != "NotFoundException":
                    raise
                self.report.ok("SES configuration set", f"the name {set_name} is free")

    def certificate(self, what, arn, region, domains):
        if not arn:
            return
        if f":acm:{region}:" not in arn:
            self.report.fail(what, f"{arn} is not in {region}")
            return
        try:
            described = call(self.client("acm", region), "describe_certificate", CertificateArn=arn)["Certificate"]
        except Unserved as err:
            self.report.unchecked(what, str(err))
            return
        except botocore.exceptions.ClientError as err:
            self.report.fail(what, f"{arn}: {err.response['Error']['Code']}")
            return
        names = {described.get("DomainName", "")} | set(described.get("SubjectAlternativeNames") or [])
        uncovered = [d for d in domains if d and not any(fnmatch.fnmatchcase(d, n) and d.count(".") == n.count(".")
                                                         for n in names)]
        not_after = described.get("NotAfter")
        soon = not_after and not_after < datetime.datetime.now(not_after.tzinfo) + datetime.timedelta(days=30)
        if described.get("Status") != "ISSUED":
            self.report.fail(what, f"{arn} is {described.get('Status')}, not ISSUED")
        elif uncovered:
            self.report.fail(what, f"{arn} does not cover {', '.join(uncovered)} (it names {', '.join(sorted(names))})")
        elif soon and described.get("RenewalEligibility") != "ELIGIBLE":
            self.report.fail(what, f"{arn} expires {not_after:%Y-%m-%d} and will not renew by itself")
        else:
            self.report.ok(what, f"issued for {', '.join(d for d in domains if d)}")

    def check_certificates(self):
        values = self.parameters()
        self.certificate("console certificate", values.get("ConsoleCertificateArn"), "us-east-1", [values.get("ConsoleDomain")])
        self.certificate("API certificate", values.get("ApiCertificateArn"), self.region,
                         [values.get("ApiDomain"), values.get("MachineApiDomain")])
        acl = values.get("ConsoleWebAclArn")
        if acl:
            match = re.fullmatch(r"arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/([^/]+)/([^/]+)", acl)
            try:
                call(self.client("wafv2", "us-east-1"), "get_web_acl", Name=match.group(1), Id=match.group(2), Scope="CLOUDFRONT")
                self.report.ok("console firewall", f"{match.group(1)} exists (CloudFront, us-east-1)")
            except Unserved as err:
                self.report.unchecked("console firewall", str(err))
            except botocore.exceptions.ClientError as err:
                self.report.fail("console firewall", f"{acl}: {err.response['Error']['Code']}")

    def check_hosted_zone(self):
        values = self.parameters()
        zone_id = values.get("HostedZoneId")
        domains = [values.get(n) for n in ("ConsoleDomain", "ApiDomain", "MachineApiDomain") if values.get(n)]
        if not zone_id:
            if domains:
                self.report.ok("DNS", f"no HostedZoneId: point {', '.join(domains)} at the stack's outputs yourself")
            return
        try:
            zone = call(self.client("route53", "us-east-1"), "get_hosted_zone", Id=zone_id)["HostedZone"]
        except Unserved as err:
            self.report.unchecked("hosted zone", str(err))
            return
        except botocore.exceptions.ClientError as err:
            self.report.fail("hosted zone", f"{zone_id}: {err.response['Error']['Code']}")
            return
        name = zone["Name"].rstrip(".")
        outside = [d for d in domains if d != name and not d.endswith("." + name)]
        if zone.get("Config", {}).get("PrivateZone"):
            self.report.fail("hosted zone", f"{name} is private: the names must resolve on the internet")
        elif outside:
            self.report.fail("hosted zone", f"{', '.join(outside)} not in {name}")
        else:
            self.report.ok("hosted zone", f"{name} holds {', '.join(domains)}")

    def check_concurrency(self):
        reserved = sum(int(self.resolve(r["Properties"].get("ReservedConcurrentExecutions", 0)))
                       for r in self.doc["Resources"].values() if r.get("Type") == "AWS::Serverless::Function")
        try:
            limit = call(self.client("lambda"), "get_account_settings")["AccountLimit"]["ConcurrentExecutions"]
        except Unserved as err:
            self.report.unchecked("Lambda concurrency", f"{err}. The stack reserves {reserved}: the account's quota "
                                  f"must be at least {reserved + UNRESERVED_MINIMUM}")
            return
        if limit < reserved + UNRESERVED_MINIMUM:
            self.report.fail("Lambda concurrency", f"the quota is {limit}; the stack reserves {reserved} and Lambda keeps "
                             f"{UNRESERVED_MINIMUM} unreserved: ask for {reserved + UNRESERVED_MINIMUM} or more (Service Quotas)")
        else:
            self.report.ok("Lambda concurrency", f"the quota is {limit}; the stack reserves {reserved}")

    def check_api_logging_role(self):
        choice = self.parameters().get("ApiGatewayLoggingRole")
        try:
            role = call(self.client("apigateway"), "get_account").get("cloudwatchRoleArn")
        except Unserved as err:
            self.report.unchecked("API Gateway logging role", str(err))
            return
        if choice == "existing" and not role:
            self.report.fail("API Gateway logging role", "ApiGatewayLoggingRole=existing, but the account has none: "
                             "the access logs would be refused (use create)")
        elif choice == "create" and role and self.stack not in role:
            self.report.ok("API Gateway logging role", f"the account has {role}; this stack will set its own "
                           "(ApiGatewayLoggingRole=existing keeps it)")
        else:
            self.report.ok("API Gateway logging role", role or "the stack makes it")

    def check_leftovers(self):
        """A first deploy fails on names a deleted stack left taken (retained or not yet gone)."""
        refs_names = []
        for logical_id, resource in self.doc["Resources"].items():
            props = resource.get("Properties") or {}
            kind = resource.get("Type")
            for prop in ("TableName", "LogGroupName", "QueueName", "RoleName", "UserPoolName"):
                if prop in props and kind in ("AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::SQS::Queue",
                                              "AWS::IAM::Role", "AWS::Cognito::UserPool"):
                    if "Condition" in resource and not template.evaluate_conditions(self.doc, self.refs()).get(resource["Condition"]):
                        continue
                    refs_names.append((kind, str(self.resolve(props[prop]))))
        taken, unchecked = [], []
        for kind, name in refs_names:
            try:
                if kind == "AWS::DynamoDB::Table":
                    exists = self.exists(self.client("dynamodb"), "describe_table", TableName=name)
                elif kind == "AWS::Logs::LogGroup":
                    groups = call(self.client("logs"), "describe_log_groups", logGroupNamePrefix=name)["logGroups"]
                    exists = any(g["logGroupName"] == name for g in groups)
                elif kind == "AWS::SQS::Queue":
                    exists = self.exists(self.client("sqs"), "get_queue_url", QueueName=name)
                elif kind == "AWS::IAM::Role":
                    exists = self.exists(self.client("iam"), "get_role", RoleName=name)
                else:
                    pools = call(self.client("cognito-idp"), "list_user_pools", MaxResults=60)["UserPools"]
                    exists = any(p["Name"] == name for p in pools)
            except Unserved as err:
                unchecked.append(f"{name} ({err})")
                continue
            if exists:
                taken.append(f"{name} ({kind.split('::')[-1]})")
        domain = self.resolve(self.doc["Resources"]["UserPoolDomain"]["Properties"]["Domain"])
        try:
            described = call(self.client("cognito-idp"), "describe_user_pool_domain", Domain=domain)["DomainDescription"]
            if described.get("UserPoolId"):
                taken.append(f"{domain} (a Cognito domain prefix, in this region)")
        except Unserved as err:
            unchecked.append(f"{domain} ({err})")
        for name in taken:
            self.report.fail("names taken", f"{name} exists, left by an earlier stack of this name: delete it, or "
                             "import it (docs/OPERATIONS.md), or choose another stack name")
        for name in unchecked:
            self.report.unchecked("names taken", name)
        if not taken:
            self.report.ok("names taken", f"none of the {len(refs_names) + 1} names the stack creates exists yet")

    def exists(self, client, operation, **kwargs):
        try:
            call(client, operation, **kwargs)
            return True
        except botocore.exceptions.ClientError as err:
            code = err.response["Error"]["Code"]
            if code in ("ResourceNotFoundException", "NoSuchEntity", "QueueDoesNotExist",
                        "AWS.SimpleQueueService.NonExistentQueue"):
                return False
            raise


def main(argv=None, out=sys.stdout):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="an environment of samconfig.toml (dev, prod)")
    parser.add_argument("--parameter-overrides", default="",
                        help="values over samconfig.toml's, in its Key=Value form (as sam deploy takes them)")
    parser.add_argument("--endpoint-url", help="another AWS endpoint (moto, in the tests)")
    parser.add_argument("--config", default=str(samconfig.SAMCONFIG), help="the samconfig.toml to read")
    parser.add_argument("--strict", action="store_true", help="what could not be checked fails the preflight too")
    args = parser.parse_args(argv)
    try:
        preflight = Preflight(args.env, samconfig.pairs(args.parameter_overrides), args.endpoint_url,
                              pathlib.Path(args.config), report=Report(out))
    except samconfig.ConfigError as err:
        print(f"preflight: {err}", file=out)
        return 1
    counts = preflight.run().counts
    print(f"{counts['ok']} ok, {counts['FAIL']} failed, {counts['not checked']} not checked", file=out)
    if counts["FAIL"]:
        return 1
    if args.strict and counts["not checked"] > len(NEVER_CHECKED):
        print("preflight: some checks could not run (--strict)", file=out)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
