#!/usr/bin/env python3
"""The whole Tenantry system on 127.0.0.1, configured from template.yaml:

- moto (DynamoDB and STS), with the template's tables;
- cognito-local, with the template's user pool, app client, groups and triggers;
- `cargo lambda watch`, serving every function (the triggers and the Invoke API);
- local-gateway, API Gateway with a Cognito authorizer, with the template's routes;
- the template's schedules (EventBridge), run every few seconds by this script;
- an EventBridge stand-in (PutEvents; the template's rules, to their functions);
- a stream poller: the tables' DynamoDB Streams to the webhook-events function, as Lambda does.

    local_stack.py up [--dir DIR] [--free-ports] [--quiet]

Writes DIR/stack.json (endpoints and ids) when everything answers, then runs until Ctrl-C or
SIGTERM, and stops every process it started. Each run starts from empty state.
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))  # template.py
import local_tables  # noqa: E402
import template  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
REGION = "us-east-1"
PIDS_FILE = "pids.json"  # the process groups a run started (see Stack.record)
STACK_NAME = "tenantry-local"
POOL_ID = f"{REGION}_LocalTenantry"
CLIENT_ID = "tenantrylocalwebclient0001"
ACCOUNT = "123456789012"
# Fixed ports of `make dev`, each overridable; `make test` takes free ones.
DEFAULT_PORTS = {"api": 3000, "cognito": 9229, "lambda": 9000, "lambda_async": 9001, "dynamodb": 5010,
                 "stripe": 12111, "mail": 5011, "bus": 5012, "machine_api": 3001, "console": 5173}
# The payment provider's secrets the local stack puts in (moto's) SSM Parameter Store, and gives
# the Stripe stand-in: what a deployment creates by hand (see docs/OPERATIONS.md).
LOCAL_STRIPE_KEY = "sk_test_local_tenantry"
LOCAL_WEBHOOK_SECRET = "whsec_local_tenantry"
PORT_VARIABLES = {name: f"TENANTRY_{name.upper()}_PORT" for name in DEFAULT_PORTS}
# Locally a failed payment's grace period is 30 seconds, not days, and the schedules run every
# 5 seconds, not hourly: the walkthrough and the tests see a suspension for non-payment happen.
LOCAL_GRACE = "30s"
SCHEDULE_EVERY = 5.0
# The function the tables' streams invoke (its binary); without it in the template, no poller.
STREAM_FUNCTION = "webhook-events"
# The values the local stack gives the template's parameters that have no default (a
# deployment's come from samconfig.toml): the dev environment, and addresses nothing sends to.
LOCAL_PARAMETERS = {"Environment": "dev", "MailFrom": "no-reply@tenantry.example",
                    "AlertEmail": "ops@tenantry.example"}


def say(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


class StackError(Exception):
    pass


def port_in_use(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def choose_ports(free):
    ports = {}
    for name, default in DEFAULT_PORTS.items():
        if free:
            ports[name] = free_port()
            continue
        port = int(os.environ.get(PORT_VARIABLES[name], default))
        if port_in_use(port):
            raise StackError(
                f"port {port} ({name}) is already in use on 127.0.0.1. Stop what holds it "
                f"(another `make dev`?), or pick another port with {PORT_VARIABLES[name]}=..."
            )
        ports[name] = port
    return ports


# ------------------------------------------------------------------ what the template says

def binary_of(function_props):
    """A function's binary, also its local function name (see functions)."""
    return function_props["_Binary"]


def functions(doc):
    """Each function's properties, with its binary under `_Binary`: the one its build metadata
    names, or else its crate (the last part of CodeUri)."""
    out = {}
    for logical_id, resource in (doc.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = dict(resource.get("Properties") or {})
        build = (resource.get("Metadata") or {}).get("BuildProperties") or {}
        props["_Binary"] = build.get("Binary") or pathlib.PurePosixPath(props["CodeUri"]).name
        out[logical_id] = props
    return out


def scheduled(doc):
    """The binaries the template runs on a schedule."""
    return sorted({binary_of(props) for props in functions(doc).values()
                   for event in (props.get("Events") or {}).values() if event.get("Type") == "Schedule"})


def run_schedules(lambda_url, binaries, directory):
    """Invokes each scheduled function as EventBridge would, with a Scheduled Event; a failure is
    written to schedules.log (the function's own log says why)."""
    event = json.dumps({
        "version": "0", "id": "local-schedule", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": REGION,
        "resources": [], "detail": {},
    }).encode()
    for binary in binaries:
        request = urllib.request.Request(f"{lambda_url}/2015-03-31/functions/{binary}/invocations",
                                         data=event, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                outcome = response.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as err:
            outcome = f"failed: {err}"
        with open(directory / "schedules.log", "a") as log:
            log.write(f"{time.strftime('%H:%M:%S')} {binary} {outcome}\n")


def local_refs(doc, tables, ports):
    """How the template's references resolve in the local stack."""
    refs = {"AWS::StackName": STACK_NAME, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws", "UserPool": POOL_ID, "UserPoolClient": CLIENT_ID}
    refs.update(tables)
    for name, props in (doc.get("Parameters") or {}).items():
        refs.setdefault(name, LOCAL_PARAMETERS.get(name, props.get("Default")))
    # The shortest drain the template allows (the data APIs' cache plus their timeout): a local
    # migration is then as safe as a deployed one, and no slower than it must be.
    refs["MigrationDrainSeconds"] = str(doc["Parameters"]["MigrationDrainSeconds"]["MinValue"])
    # Payments go to the Stripe stand-in, which also plays the console customers come back to.
    refs["StripeApiUrl"] = f"http://127.0.0.1:{ports['stripe']}"
    refs["ConsoleUrl"] = f"http://127.0.0.1:{ports['console']}"
    refs["BillingGracePeriod"] = LOCAL_GRACE
    refs["UserPoolDomain"] = "local"  # its token endpoint is the machine gateway's
    # Deployed, webhook endpoints are https URLs of public hosts; locally the receivers listen on
    # 127.0.0.1, over http.
    if "WebhookUrlPolicy" in (doc.get("Parameters") or {}):
        refs["WebhookUrlPolicy"] = "loopback-http"
    unset = sorted(name for name in (doc.get("Parameters") or {}) if refs.get(name) is None)
    if unset:
        raise StackError(f"the template's parameters {', '.join(unset)} have no default: give them a local value "
                         "in LOCAL_PARAMETERS (local/local_stack.py)")
    # The event buses: !Ref is a bus's name, and !GetAtt gives its name or ARN.
    for logical_id, props in template.resources(doc, "AWS::Events::EventBus"):
        name = template.resolve(props["Name"], STACK_NAME, refs)
        refs.update({logical_id: name, f"{logical_id}.Name": name,
                     f"{logical_id}.Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"})
    # The queues are made in the local moto (create_queues), at its address.
    for logical_id, props in template.resources(doc, "AWS::SQS::Queue"):
        name = template.resolve(props["QueueName"], STACK_NAME, refs)
        refs[f"{logical_id}.Arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        refs[logical_id] = queue_url(ports, name)
    # SES configuration sets: !Ref is the name (made in the local SES by verify_mail_sender).
    for logical_id, props in template.resources(doc, "AWS::SES::ConfigurationSet"):
        refs[logical_id] = template.resolve(props["Name"], STACK_NAME, refs)
    return refs


def queue_url(ports, name):
    """A queue's URL in the local moto (moto answers with its own address and the account)."""
    return f"http://127.0.0.1:{ports['dynamodb']}/{ACCOUNT}/{name}"


def local_conditions(doc, refs):
    """The template's conditions with the local parameter values (the dev environment)."""
    return template.evaluate_conditions(doc, refs)


def event_rules(doc, refs):
    """The event buses and rules for the EventBridge stand-in (see local/bus_standin.py): each
    enabled rule with an event pattern, its bus, and the functions it targets (their binaries),
    from the rules (AWS::Events::Rule) and the functions' EventBridgeRule events. A function
    target that reshapes the event (Input, InputPath, InputTransformer) is an error: the function
    would get another event locally. Targets that are not functions are listed in `undelivered`."""
    fns = functions(doc)

    def pattern(value):
        return json.loads(value) if isinstance(value, str) else value

    def reshaping(where, props):
        found = sorted({"Input", "InputPath", "InputTransformer"} & set(props))
        if found:
            raise StackError(f"{where}: {', '.join(found)} is not supported by the local EventBridge stand-in")

    buses = [refs[logical_id] for logical_id, _ in template.resources(doc, "AWS::Events::EventBus")]
    rules, undelivered = [], []
    for logical_id, props in template.resources(doc, "AWS::Events::Rule"):
        if props.get("State", "ENABLED") == "DISABLED" or "EventPattern" not in props:
            continue  # schedules are run_schedules'
        targets = []
        for target in props.get("Targets") or []:
            arn = target.get("Arn")
            function, attribute = (arn.get("Fn::GetAtt") or [None, None]) if isinstance(arn, dict) else (None, None)
            if function in fns and attribute == "Arn":
                reshaping(f"rule {logical_id}, target {target.get('Id')}", target)
                targets.append(binary_of(fns[function]))
            else:
                undelivered.append(f"{logical_id}/{target.get('Id')}")
        rules.append({"name": logical_id,
                      "bus": template.resolve(props.get("EventBusName", "default"), STACK_NAME, refs),
                      "pattern": pattern(props["EventPattern"]), "functions": targets})
    for logical_id, props in fns.items():
        for name, event in (props.get("Events") or {}).items():
            p = event.get("Properties") or {}
            if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent") or "Pattern" not in p:
                continue
            if p.get("State") == "DISABLED" or p.get("Enabled") is False:
                continue
            reshaping(f"{logical_id}, event {name}", p)
            rules.append({"name": f"{logical_id}.{name}",
                          "bus": template.resolve(p.get("EventBusName", "default"), STACK_NAME, refs),
                          "pattern": pattern(p["Pattern"]), "functions": [binary_of(props)]})
    return {"buses": buses, "rules": rules, "undelivered": undelivered}


def stream_mapping(doc, tables):
    """How the template maps the tables' streams to STREAM_FUNCTION, for the stream poller: None
    without that function; else the smallest batch size of its DynamoDB events, whether they
    all report batch item failures (FunctionResponseTypes: [ReportBatchItemFailures]), and each
    table's filter patterns (FilterCriteria), by table name (`tables`: logical id -> name)."""
    for props in functions(doc).values():
        if binary_of(props) != STREAM_FUNCTION:
            continue
        events = [event.get("Properties") or {} for event in (props.get("Events") or {}).values()
                  if event.get("Type") == "DynamoDB"]
        filters = {}
        for event in events:
            patterns = [json.loads(f["Pattern"]) for f in (event.get("FilterCriteria") or {}).get("Filters") or []]
            stream = event.get("Stream")
            logical = (stream.get("Fn::GetAtt") or [None])[0] if isinstance(stream, dict) else None
            if patterns and logical not in tables:
                raise StackError(f"{STREAM_FUNCTION}: a filtered stream of {stream!r}, which is not one of the "
                                 "template's tables: the local poller cannot filter it")
            if patterns:
                filters[tables[logical]] = patterns
        return {"batch_size": min([int(event.get("BatchSize", 100)) for event in events] or [100]),
                "report_failures": bool(events) and all(
                    "ReportBatchItemFailures" in (event.get("FunctionResponseTypes") or []) for event in events),
                "filters": filters}
    return None


def function_environment(doc, tables, ports):
    """The union of the functions' environment variables, resolved for the local stack. A value
    naming one of the template's functions becomes that function's local name (its binary)."""
    refs = local_refs(doc, tables, ports)
    conditions = local_conditions(doc, refs)
    by_deployed_name = {
        template.resolve(props["FunctionName"], STACK_NAME, refs): binary_of(props)
        for props in functions(doc).values()
    }
    env = {}
    global_vars = doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    for props in functions(doc).values():
        variables = dict(global_vars)
        variables.update(props.get("Environment", {}).get("Variables", {}))
        for name, value in variables.items():
            resolved = str(template.resolve(value, STACK_NAME, refs, conditions))
            # A function named with its alias (name:live) is the same binary here.
            function, _, _ = resolved.partition(":")
            env[name] = by_deployed_name.get(resolved) or by_deployed_name.get(function, resolved)
    env["RUST_LOG"] = os.environ.get("RUST_LOG", "info")
    # No event source mappings here: the stream poller reads every table's stream, silo tables
    # included, so tenant-jobs maps none.
    env["SILO_STREAM_CONSUMER"] = ""
    # Machine clients get their tokens from the machine gateway, which plays Cognito's token
    # endpoint (cognito-local has no client-credentials grant).
    env["TOKEN_ENDPOINT"] = f"http://127.0.0.1:{ports['machine_api']}/oauth2/token"
    return env


def routes(doc, api="Api"):
    """The routes of one of the template's REST APIs (`Api`, the people's; `MachineApi`, the
    API clients'), each with the OAuth scopes its authorizer requires (machine routes)."""
    out = []
    for props in functions(doc).values():
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            p = event["Properties"]
            rest = p.get("RestApiId")
            if (rest.get("Ref") if isinstance(rest, dict) else "Api") != api:
                continue
            # A method exempt from the default (Cognito) authorizer says so by name.
            auth = (p.get("Auth") or {}).get("Authorizer") != "NONE"
            route = {"method": p["Method"].upper(), "path": p["Path"], "function": binary_of(props), "auth": auth}
            scopes = (p.get("Auth") or {}).get("AuthorizationScopes")
            if scopes:
                route["scopes"] = scopes
            out.append(route)
    return out


def cognito_files(doc, ports):
    """cognito-local's config and database, from the template's pool, client, groups, triggers."""
    pool = next(props for _, props in template.resources(doc, "AWS::Cognito::UserPool"))
    client = next(props for _, props in template.resources(doc, "AWS::Cognito::UserPoolClient"))
    fns = functions(doc)

    def trigger(arn):
        # !GetAtt Function.Arn, or !Ref Function.Alias (the live alias).
        logical = arn["Fn::GetAtt"][0] if "Fn::GetAtt" in arn else arn["Ref"].split(".", 1)[0]
        return binary_of(fns[logical])

    refs = local_refs(doc, {}, ports)
    conditions = local_conditions(doc, refs)

    lambda_config = pool.get("LambdaConfig", {})
    triggers = {}
    if "PreSignUp" in lambda_config:
        triggers["PreSignUp"] = trigger(lambda_config["PreSignUp"])
    if "PostConfirmation" in lambda_config:
        triggers["PostConfirmation"] = trigger(lambda_config["PostConfirmation"])
    if "CustomMessage" in lambda_config:
        triggers["CustomMessage"] = trigger(lambda_config["CustomMessage"])
    if "PreTokenGenerationConfig" in lambda_config:
        triggers["PreTokenGeneration"] = trigger(lambda_config["PreTokenGenerationConfig"]["LambdaArn"])

    config = {
        "LambdaClient": {
            "endpoint": f"http://127.0.0.1:{ports['lambda']}",
            "region": REGION,
            "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
            # A failed trigger must not be invoked again by the SDK: Cognito does its own retries.
            "maxRetries": 0,
            # The first invoke of a function may compile it.
            "httpOptions": {"timeout": 900000},
        },
        "TriggerFunctions": triggers,
        "TokenConfig": {"IssuerDomain": f"http://127.0.0.1:{ports['cognito']}"},
    }

    schema = [
        {"Name": "sub", "AttributeDataType": "String", "Mutable": False, "Required": True},
        {"Name": "email_verified", "AttributeDataType": "Boolean", "Mutable": True},
    ]
    for attribute in pool.get("Schema", []):
        name = attribute["Name"]
        standard = name in ("email", "name", "phone_number", "given_name", "family_name")
        entry = {"Name": name if standard else f"custom:{name}",
                 "AttributeDataType": attribute.get("AttributeDataType", "String"),
                 "Mutable": attribute.get("Mutable", True)}
        if attribute.get("Required"):
            entry["Required"] = True
        schema.append(entry)
    now = "2026-01-01T00:00:00.000Z"
    groups = {}
    for _, props in template.resources(doc, "AWS::Cognito::UserPoolGroup"):
        groups[props["GroupName"]] = {"GroupName": props["GroupName"], "Description": props.get("Description", ""),
                                      "UserPoolId": POOL_ID, "CreationDate": now, "LastModifiedDate": now,
                                      "members": []}
    pool_db = {
        "Users": {},
        "Groups": groups,
        "Options": {
            "Id": POOL_ID,
            "Name": "tenantry-local-users",
            "UsernameAttributes": pool.get("UsernameAttributes", []),
            "AutoVerifiedAttributes": pool.get("AutoVerifiedAttributes", []),
            "MfaConfiguration": pool.get("MfaConfiguration", "OFF"),
            "Policies": pool.get("Policies", {}),
            "SchemaAttributes": schema,
        },
    }
    clients_db = {"Clients": {CLIENT_ID: {
        "ClientId": CLIENT_ID,
        "ClientName": "tenantry-local-web",
        "UserPoolId": POOL_ID,
        "ExplicitAuthFlows": template.resolve(client.get("ExplicitAuthFlows", []), STACK_NAME, refs, conditions),
        "ReadAttributes": client.get("ReadAttributes", []),
        "WriteAttributes": client.get("WriteAttributes", []),
        "IdTokenValidity": client.get("IdTokenValidity"),
        "AccessTokenValidity": client.get("AccessTokenValidity"),
        "RefreshTokenValidity": client.get("RefreshTokenValidity"),
        "TokenValidityUnits": client.get("TokenValidityUnits", {}),
        "CreationDate": now,
        "LastModifiedDate": now,
    }}}
    return config, pool_db, clients_db


# ------------------------------------------------------------------ processes

class Stack:
    def __init__(self, directory, ports, quiet):
        self.dir = directory
        self.ports = ports
        self.quiet = quiet
        self.processes = []

    def start(self, name, command, env=None, cwd=None):
        log = open(self.dir / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=cwd or ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append((name, process))
        self.record()
        return process

    def record(self):
        """Writes the process groups this run started to pids.json, so that a later run in this
        directory can stop them if this one is killed before it could."""
        pids = {name: process.pid for name, process in self.processes}
        (self.dir / PIDS_FILE).write_text(json.dumps(pids) + "\n")

    def wait_http(self, name, process, url, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"{name} exited during start-up; its log: {self.dir / (name + '.log')}\n"
                                 + tail(self.dir / f"{name}.log"))
            try:
                urllib.request.urlopen(url, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answered
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise StackError(f"{name} did not answer at {url} within {seconds}s; its log: {self.dir / (name + '.log')}\n"
                         + tail(self.dir / f"{name}.log"))

    def stop(self):
        # A second Ctrl-C or TERM while stopping must not leave servers running: stopping goes on.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        for _, process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.processes = []
        (self.dir / PIDS_FILE).unlink(missing_ok=True)

    def dead(self):
        return [name for name, process in self.processes if process.poll() is not None]


def tail(path, lines=30):
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return ""


def stop_leftovers(directory):
    """Stops the servers an earlier run in `directory` started and could not stop (it was killed
    outright): they would hold the ports. Only process groups that still run from this checkout
    are stopped; where that cannot be known (no /proc), their PIDs are named instead."""
    try:
        recorded = json.loads((directory / PIDS_FILE).read_text())
    except (OSError, ValueError):
        return
    ours = []
    for name, pid in recorded.items():
        try:
            if os.getpgid(pid) != pid:
                continue  # that PID is another process now
        except ProcessLookupError:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            print(f"warning: {name} (PID {pid}) from an earlier run may still be running; stop it if a port is taken",
                  file=sys.stderr)
            continue
        if cwd == str(ROOT) or cwd.startswith(str(ROOT) + os.sep):
            ours.append((name, pid))
    if not ours:
        return
    say("Stopping what an earlier run left running: " + ", ".join(f"{name} (PID {pid})" for name, pid in ours))
    for _, pid in ours:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for _, pid in ours:
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def up(args):
    directory = (ROOT / args.dir).resolve()
    stop_leftovers(directory)
    ports = choose_ports(args.free_ports)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    doc = template.load()
    stack = Stack(directory, ports, args.quiet)

    def shutdown(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    try:
        say("Building every function and the local gateway (cargo build --workspace --bins)")
        build = subprocess.run(["cargo", "build", "--workspace", "--bins"], cwd=ROOT)
        if build.returncode != 0:
            raise StackError("cargo build failed")

        say(f"Starting the local DynamoDB and STS server (moto) on 127.0.0.1:{ports['dynamodb']}")
        moto = stack.start("moto", [str(VENV_BIN / "python"), str(ROOT / "local" / "moto_serialized.py"),
                                    "-H", "127.0.0.1", "-p", str(ports["dynamodb"])])
        dynamodb_url = f"http://127.0.0.1:{ports['dynamodb']}"
        stack.wait_http("moto", moto, f"{dynamodb_url}/moto-api/", 60)
        tables = create_tables(dynamodb_url)

        # SES in a moto of its own: what it sent is read back through moto's dump of its state,
        # which stays small without the DynamoDB server's items.
        say(f"Starting the local SES (moto) on 127.0.0.1:{ports['mail']}")
        mail = stack.start("mail", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(ports["mail"])])
        mail_url = f"http://127.0.0.1:{ports['mail']}"
        stack.wait_http("mail", mail, f"{mail_url}/moto-api/", 60)

        say(f"Starting the local Cognito (cognito-local) on 127.0.0.1:{ports['cognito']}")
        config, pool_db, clients_db = cognito_files(doc, ports)
        cognito_dir = directory / "cognito"
        (cognito_dir / ".cognito" / "db").mkdir(parents=True)
        (cognito_dir / ".cognito" / "config.json").write_text(json.dumps(config, indent=2))
        (cognito_dir / ".cognito" / "db" / f"{POOL_ID}.json").write_text(json.dumps(pool_db, indent=2))
        (cognito_dir / ".cognito" / "db" / "clients.json").write_text(json.dumps(clients_db, indent=2))
        cognito_env = dict(os.environ, HOST="127.0.0.1", PORT=str(ports["cognito"]))
        cognito_env.pop("CODE", None)
        if args.delivery_code:
            # Every code cognito-local "sends" (confirmation codes, temporary passwords) is this one.
            cognito_env["CODE"] = args.delivery_code
        cognito = stack.start("cognito", ["node", str(ROOT / "node_modules" / "cognito-local" / "lib" / "bin" / "start.js")],
                              env=cognito_env, cwd=cognito_dir)
        cognito_url = f"http://127.0.0.1:{ports['cognito']}"
        stack.wait_http("cognito", cognito, f"{cognito_url}/health", 60)

        put_payment_secrets(dynamodb_url, doc)
        verify_mail_sender(mail_url, doc, ports)
        queues = create_queues(dynamodb_url, doc, ports)

        say(f"Starting the Stripe stand-in on 127.0.0.1:{ports['stripe']}")
        stripe_url = f"http://127.0.0.1:{ports['stripe']}"
        stripe = stack.start("stripe", [str(VENV_BIN / "python"), str(ROOT / "local" / "stripe_standin.py"),
                                        "--port", str(ports["stripe"]),
                                        "--webhook-url", f"http://127.0.0.1:{ports['api']}/billing/webhook",
                                        "--api-key", LOCAL_STRIPE_KEY, "--webhook-secret", LOCAL_WEBHOOK_SECRET])
        stack.wait_http("stripe", stripe, f"{stripe_url}/health", 30)

        say(f"Starting the EventBridge stand-in on 127.0.0.1:{ports['bus']} (events: bus.jsonl)")
        bus_url = f"http://127.0.0.1:{ports['bus']}"
        bus_log = directory / "bus.jsonl"
        rules = event_rules(doc, local_refs(doc, tables, ports))
        rules_file = directory / "rules.json"
        rules_file.write_text(json.dumps(rules, indent=2))
        for target in rules["undelivered"]:
            say(f"  the target {target} is not a function: the stand-in does not deliver to it")
        bus = stack.start("bus", [str(VENV_BIN / "python"), str(ROOT / "local" / "bus_standin.py"),
                                  "--port", str(ports["bus"]), "--events-file", str(bus_log),
                                  "--rules", str(rules_file),
                                  "--lambda-endpoint", f"http://127.0.0.1:{ports['lambda']}",
                                  "--account", ACCOUNT, "--region", REGION])
        stack.wait_http("bus", bus, f"{bus_url}/health", 30)

        say(f"Starting the functions (cargo lambda watch) on 127.0.0.1:{ports['lambda']}")
        lambda_url = f"http://127.0.0.1:{ports['lambda']}"
        # The functions' own invocations go through the asynchronous-invocation stand-in, so a
        # job they dispatch runs in the background, as in Lambda.
        async_lambda_url = f"http://127.0.0.1:{ports['lambda_async']}"
        function_env = dict(os.environ)
        function_env.update({
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
            "AWS_ENDPOINT_URL_STS": dynamodb_url,
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": cognito_url,
            "AWS_ENDPOINT_URL_LAMBDA": async_lambda_url,
            "AWS_ENDPOINT_URL_SSM": dynamodb_url,
            "AWS_ENDPOINT_URL_SQS": dynamodb_url,
            "AWS_ENDPOINT_URL_SESV2": mail_url,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": bus_url,
        })
        function_env.pop("AWS_PROFILE", None)
        function_env.update(function_environment(doc, tables, ports))
        (directory / "functions.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(function_environment(doc, tables, ports).items())))
        watch = stack.start("functions", [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "-A", "127.0.0.1",
                                          "-P", str(ports["lambda"]), "--ignore-changes"], env=function_env)
        stack.wait_http("functions", watch, f"{lambda_url}/", 120)
        say(f"Starting the asynchronous invocations' stand-in on 127.0.0.1:{ports['lambda_async']} (log: async.log)")
        invoker = stack.start("async", [str(VENV_BIN / "python"), str(ROOT / "local" / "async_invoke.py"),
                                        "--port", str(ports["lambda_async"]), "--lambda-endpoint", lambda_url])
        stack.wait_http("async", invoker, f"{async_lambda_url}/", 30)

        mapping = stream_mapping(doc, tables)
        polling = mapping is not None
        if polling:
            say(f"Starting the stream poller: the tables' streams to {STREAM_FUNCTION} (log: streams.log)")
            if not mapping["report_failures"]:
                say(f"  {STREAM_FUNCTION}'s DynamoDB events do not all have FunctionResponseTypes: "
                    "[ReportBatchItemFailures]: as in AWS, the batchItemFailures it answers are ignored")
            filters_file = directory / "stream-filters.json"
            filters_file.write_text(json.dumps(mapping["filters"], indent=2))
            stack.start("streams", [str(VENV_BIN / "python"), str(ROOT / "local" / "stream_poller.py"),
                                    "--dynamodb-endpoint", dynamodb_url, "--lambda-endpoint", lambda_url,
                                    "--function", STREAM_FUNCTION, "--batch-size", str(mapping["batch_size"]),
                                    "--filters", str(filters_file)]
                        + (["--report-batch-item-failures"] if mapping["report_failures"] else []))
        else:
            say(f"No function {STREAM_FUNCTION} in template.yaml: the tables' streams are not polled")

        say(f"Starting the API gateway (local-gateway) on 127.0.0.1:{ports['api']}")
        routes_file = directory / "routes.json"
        routes_file.write_text(json.dumps(routes(doc), indent=2))
        gateway = stack.start("gateway", [str(ROOT / "target" / "debug" / "local-gateway"),
                                          "--listen", f"127.0.0.1:{ports['api']}",
                                          "--routes", str(routes_file),
                                          "--lambda-endpoint", lambda_url,
                                          "--jwks-url", f"{cognito_url}/{POOL_ID}/.well-known/jwks.json",
                                          "--issuer", f"{cognito_url}/{POOL_ID}",
                                          "--audience", CLIENT_ID, "--stage", "prod"])
        api_url = f"http://127.0.0.1:{ports['api']}"
        stack.wait_http("gateway", gateway, f"{api_url}/", 60)

        # The machine API: the same functions, access tokens with the route's scope, and the
        # token endpoint for API clients (client credentials), signing with cognito-local's key.
        say(f"Starting the machine API gateway and token endpoint (local-gateway) on 127.0.0.1:{ports['machine_api']}")
        machine_routes_file = directory / "machine-routes.json"
        machine_routes_file.write_text(json.dumps(routes(doc, "MachineApi"), indent=2))
        pre_token = next(binary_of(props) for logical_id, props in functions(doc).items()
                         if logical_id == "PreTokenGenerationFunction")
        machine = stack.start("machine-gateway", [str(ROOT / "target" / "debug" / "local-gateway"),
                                                  "--listen", f"127.0.0.1:{ports['machine_api']}",
                                                  "--routes", str(machine_routes_file),
                                                  "--lambda-endpoint", lambda_url,
                                                  "--jwks-url", f"{cognito_url}/{POOL_ID}/.well-known/jwks.json",
                                                  "--issuer", f"{cognito_url}/{POOL_ID}",
                                                  "--access-tokens", "--stage", "prod",
                                                  "--signing-key", str(ROOT / "node_modules" / "cognito-local" / "lib"
                                                                       / "keys" / "cognitoLocal.private.json"),
                                                  "--cognito-endpoint", cognito_url,
                                                  "--user-pool-id", POOL_ID,
                                                  "--pre-token-function", pre_token])
        machine_api_url = f"http://127.0.0.1:{ports['machine_api']}"
        stack.wait_http("machine-gateway", machine, f"{machine_api_url}/", 60)

        console_url = f"http://127.0.0.1:{ports['console']}"
        build_console(stack, args.watch_console)
        say(f"Serving the web console on {console_url}" + (" (rebuilt as its sources change)" if args.watch_console else ""))
        console = stack.start("console", [sys.executable, str(ROOT / "local" / "serve_console.py"),
                                          "--port", str(ports["console"]), "--api-url", api_url,
                                          "--cognito-url", cognito_url, "--region", REGION,
                                          "--user-pool-id", POOL_ID, "--client-id", CLIENT_ID])
        stack.wait_http("console", console, f"{console_url}/config.json", 30)

        state = {
            "api_url": api_url,
            "console_url": console_url,
            "machine_api_url": machine_api_url,
            "token_endpoint": f"{machine_api_url}/oauth2/token",
            "cognito_endpoint": cognito_url,
            "user_pool_id": POOL_ID,
            "client_id": CLIENT_ID,
            "region": REGION,
            "dynamodb_endpoint": dynamodb_url,
            "lambda_endpoint": lambda_url,
            "stripe_endpoint": stripe_url,
            "mail_endpoint": mail_url,
            "bus_endpoint": bus_url,
            # Every event put on a bus, one JSON line each, as EventBridge delivers it (plus its bus).
            "bus_log": str(bus_log),
            # The local webhook endpoint's signing secret (tests sign their own events with it).
            "stripe_webhook_secret": LOCAL_WEBHOOK_SECRET,
            "tables": tables,
            # The template's queues (failed jobs, failed stream records), by logical id.
            "queues": queues,
            "delivery_code": args.delivery_code,
            "cognito_db": str(cognito_dir / ".cognito" / "db" / f"{POOL_ID}.json"),
            "logs": str(directory),
        }
        (directory / "stack.json").write_text(json.dumps(state, indent=2) + "\n")
        if not args.quiet:
            walkthrough(state, directory, polling)
        say(f"Ready: {directory / 'stack.json'}")
        schedules = scheduled(doc)
        next_run = time.monotonic() + SCHEDULE_EVERY
        while True:
            dead = stack.dead()
            if dead:
                raise StackError(f"{', '.join(dead)} stopped unexpectedly; see the logs in {directory}")
            if schedules and time.monotonic() >= next_run:
                run_schedules(lambda_url, schedules, directory)
                next_run = time.monotonic() + SCHEDULE_EVERY
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("Stopping")
        return 0
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        (directory / "stack.json").unlink(missing_ok=True)


def build_console(stack, watch):
    """Builds the web console (types from docs/openapi.json, a type check, Vite); with `watch`,
    Vite then rebuilds it whenever its sources change, for as long as the stack runs."""
    say("Building the web console (types from docs/openapi.json, tsc, vite build)")
    log = stack.dir / "console-build.log"
    with open(log, "w") as out:
        built = subprocess.run(["npm", "run", "--silent", "console:build"], cwd=ROOT, stdout=out,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if built.returncode != 0:
        raise StackError(f"the web console did not build; its log: {log}\n" + tail(log))
    if watch:
        stack.start("console-watch", ["npm", "run", "--silent", "console:watch"])


def put_payment_secrets(endpoint, doc):
    """The Stripe API key and webhook secret, as SecureStrings under the template's names."""
    client = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")
    parameters = doc["Parameters"]
    for name, value in ((parameters["StripeApiKeyParameter"]["Default"], LOCAL_STRIPE_KEY),
                        (parameters["StripeWebhookSecretsParameter"]["Default"], LOCAL_WEBHOOK_SECRET)):
        client.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


def verify_mail_sender(endpoint, doc, ports):
    """SES (moto's) sends only from a verified address: the local sender is verified, and the
    template's configuration sets exist. What is sent is kept by moto; `scripts/tenantry mail
    EMAIL` shows it."""
    client = boto3.client("ses", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")
    client.verify_email_identity(EmailAddress=LOCAL_PARAMETERS["MailFrom"])
    refs = local_refs(doc, {}, ports)
    for logical_id, _ in template.resources(doc, "AWS::SES::ConfigurationSet"):
        client.create_configuration_set(ConfigurationSet={"Name": refs[logical_id]})


def create_queues(endpoint, doc, ports):
    """The template's SQS queues, in the local moto (where a function's failed work is kept)."""
    client = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")
    refs = local_refs(doc, {}, ports)
    urls = {}
    for logical_id, props in template.resources(doc, "AWS::SQS::Queue"):
        name = template.resolve(props["QueueName"], STACK_NAME, refs)
        url = client.create_queue(QueueName=name)["QueueUrl"]
        if url != refs[logical_id]:
            raise StackError(f"the local SQS answered {url} for {name}, not {refs[logical_id]} (local/local_stack.py)")
        urls[logical_id] = url
    return urls


def create_tables(endpoint):
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")
    names = {}
    for logical_id, request, _ in local_tables.table_requests(STACK_NAME):
        client.create_table(**request)
        names[logical_id] = request["TableName"]
    return names


def walkthrough(state, directory, polling):
    api, cognito, client = state["api_url"], state["cognito_endpoint"], state["client_id"]
    aws = f"{VENV_BIN / 'aws'} --region {state['region']} --endpoint-url {cognito} cognito-idp"
    streams = (f"to {STREAM_FUNCTION} (log: {directory / 'streams.log'})" if polling
               else f"not polled: no {STREAM_FUNCTION} function in template.yaml")
    print(f"""
Tenantry is running on 127.0.0.1 (state is kept in memory: each `make dev` starts empty).

  The web console                         {state['console_url']}   open it: "Create an organization", the code
                                          is in {directory / 'cognito.log'} (or: scripts/tenantry code)
  API (API Gateway + Cognito authorizer)  {api}
  The API's contract (OpenAPI 3.1)         {api}/openapi.json   (rendered: make docs)
  Machine API (API clients' tokens)       {state['machine_api_url']}   tokens: {state['token_endpoint']}
  Cognito (cognito-local)                 {cognito}   pool {state['user_pool_id']}, client {client}
  DynamoDB + STS (moto)                   {state['dynamodb_endpoint']}
  Functions (cargo lambda watch)          {state['lambda_endpoint']}
  Payments (a Stripe stand-in)            {state['stripe_endpoint']}
  E-mail (SES, moto)                      {state['mail_endpoint']}   scripts/tenantry mail EMAIL
  Events (an EventBridge stand-in)        {state['bus_endpoint']}   what was put: {state['bus_log']}
  Table streams (a poller)                {streams}
  Endpoints and ids                       {directory / 'stack.json'}
  Logs                                    {directory}/*.log

Try it (with the small client, in another terminal):

  scripts/tenantry signup alice@acme.example 'Correct-Horse-9' "Acme Tea"
  scripts/tenantry confirm alice@acme.example              # reads the e-mailed code from cognito-local
  scripts/tenantry login alice@acme.example 'Correct-Horse-9'
  scripts/tenantry call POST /products '{{"name":"Sencha","sku":"TEA-1","price":1250,"currency":"EUR"}}'
  scripts/tenantry call GET /products
  scripts/tenantry call POST /users '{{"email":"bob@acme.example","role":"member"}}'
  scripts/tenantry temp-password bob@acme.example          # the e-mailed temporary password
  scripts/tenantry login bob@acme.example TEMP --new-password 'Bob-Secret-42x'
  scripts/tenantry create-org "Bob Bakes"                  # bob in a second organization, as its admin
  scripts/tenantry orgs                                    # * marks the one his tokens carry
  scripts/tenantry switch "Bob Bakes"                      # the refreshed token carries Bob Bakes
  scripts/tenantry call POST /users '{{"email":"alice@acme.example","role":"member"}}'   # alice: invited
  scripts/tenantry accept "Bob Bakes" --as alice@acme.example
  scripts/tenantry checkout standard                       # bob pays for Bob Bakes: the payment page
  scripts/tenantry pay bob@acme.example                    # its "Pay" button; then: tenantry billing
  scripts/tenantry fail-payment bob@acme.example           # refused: 30 s of grace here, then suspended
  scripts/tenantry pay-again bob@acme.example              # paid: active again
  scripts/tenantry call POST /webhooks '{{"url":"http://127.0.0.1:8123/hook","events":["product.created","product.updated"]}}'
  .venv/bin/python local/webhook_receiver.py --port 8123 --secret whsec_... --out hooks.jsonl &   # the secret it answered
  scripts/tenantry call POST /products '{{"name":"Matcha","sku":"TEA-2","price":2400,"currency":"EUR"}}'   # then: cat hooks.jsonl
  scripts/tenantry call POST /api-clients '{{"name":"ERP","scopes":["products.read"]}}'   # client_id, client_secret (once)
  curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials {state['token_endpoint']}
  curl -s -H "Authorization: ACCESS_TOKEN" {state['machine_api_url']}/products   # the machine API, its scopes only

Or with the AWS CLI and curl:

  {aws} sign-up --client-id {client} --username alice@acme.example --password 'Correct-Horse-9' \\
      --user-attributes Name=email,Value=alice@acme.example Name=custom:tenant_name,Value="Acme Tea"
  scripts/tenantry code alice@acme.example                 # or find "Confirmation Code" in {directory}/cognito.log
  {aws} confirm-sign-up --client-id {client} --username alice@acme.example --confirmation-code CODE
  TOKEN=$({aws} initiate-auth --client-id {client} --auth-flow USER_PASSWORD_AUTH \\
      --auth-parameters USERNAME=alice@acme.example,PASSWORD='Correct-Horse-9' --query AuthenticationResult.IdToken --output text)
  curl -s -H "Authorization: $TOKEN" -H 'content-type: application/json' \\
      -d '{{"name":"Sencha","sku":"TEA-1","price":1250,"currency":"EUR"}}' {api}/products
  curl -s -H "Authorization: $TOKEN" {api}/products
  curl -s -H "Authorization: $TOKEN" -H 'content-type: application/json' \\
      -d '{{"email":"bob@acme.example","role":"member"}}' {api}/users

Ctrl-C stops everything.
""", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start the stack and run until interrupted")
    start.add_argument("--dir", default=".local/dev", help="where state, logs and stack.json go")
    start.add_argument("--free-ports", action="store_true", help="use free ports (tests) instead of the fixed ones")
    start.add_argument("--quiet", action="store_true", help="no walkthrough")
    start.add_argument("--watch-console", action="store_true",
                       help="rebuild the web console whenever its sources change (make dev)")
    start.add_argument("--delivery-code", help="make cognito-local send this code (and temporary password) every time: "
                                                "tests use it, because its log and database are written asynchronously")
    args = parser.parse_args()
    try:
        return up(args)
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
