# The logic lives in scripts/; these targets are the entry points the README documents.
.PHONY: help check test dev bench bench-console fuzz fmt events openapi docs preflight deploy stack-policy publish-console console-rollback replay-stream-records sync checkov

## Lists the targets.
help:
	@awk '/^## /{sub(/^## /, ""); doc = doc (doc ? " " : "") $$0; next} /^[a-z-]+:/{if (doc) printf "  %-24s %s\n", substr($$1, 1, length($$1) - 1), doc; doc = ""; next} {doc = ""}' $(MAKEFILE_LIST)

## The quick checks, no servers: formatting, clippy, the unit and handler tests, the console's
## type check (under a minute when built).
check:
	@scripts/check.sh

## Runs the whole system on 127.0.0.1 (local DynamoDB, Cognito with the real triggers, the
## functions, API Gateway) until Ctrl-C, and prints a walkthrough.
dev:
	@scripts/dev.sh

## Installs what the tests need, then runs every check and test against local servers.
test:
	@scripts/test.sh

## Formats the code.
fmt:
	cargo fmt --all

## The API contract test with many examples per operation (Schemathesis against a fresh local stack).
fuzz:
	@scripts/fuzz.sh

## Rebuilds docs/openapi.json from docs/openapi/.
openapi:
	@[ -x .venv/bin/python ] || scripts/bootstrap.sh
	.venv/bin/python scripts/openapi.py

## Serves the API reference (docs/api.html: Redoc rendering docs/openapi.json) on 127.0.0.1:8088.
docs:
	@scripts/bootstrap.sh && .venv/bin/python local/serve_docs.py

## Regenerates the sample events in events/.
events:
	python3 scripts/gen_events.py

## Builds release binaries and measures cold starts, latency, memory and calls against the
## floor and a Python/boto3 baseline; rewrites docs/PERFORMANCE.md.
bench:
	@scripts/bench.sh

## Measures the web console against its budgets (sizes, and the home page's first meaningful
## paint on a fresh local stack) and rewrites its section of docs/PERFORMANCE.md.
bench-console:
	@scripts/bench_console.sh

# ---------------------------------------------------------------- AWS (docs/OPERATIONS.md)
# ENV is an environment of samconfig.toml: dev or prod.
ENV ?=
ENDPOINT ?=
define need_env
	@[ "$(ENV)" = dev ] || [ "$(ENV)" = prod ] || { echo "error: say which environment: make $@ ENV=dev|prod" >&2; exit 1; }
endef

## Checks the account and the environment's settings before a deploy (against AWS, or
## ENDPOINT=http://127.0.0.1:PORT for moto); fails on what it could not check, against AWS.
preflight:
	$(need_env)
	@[ -x .venv/bin/python ] || scripts/bootstrap.sh
	@.venv/bin/python scripts/preflight.py --env $(ENV) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT),--strict)

## Builds and deploys the stack (the preflight first; prod asks you to confirm its change set).
deploy: preflight
	.venv/bin/sam build --config-env $(ENV)
	.venv/bin/sam deploy --config-env $(ENV)

## Sets stack-policy.json on the deployed stack: the user pool and the tables cannot be replaced
## or deleted by an update.
stack-policy:
	$(need_env)
	@[ -x .venv/bin/python ] || scripts/bootstrap.sh
	@.venv/bin/python scripts/set_stack_policy.py --env $(ENV)

## Builds the web console and publishes it to the deployed stack.
publish-console:
	$(need_env)
	@scripts/publish_console.sh $(ENV)

## Brings the previous publication of the web console back (STEPS=n for further; LIST=1 lists).
console-rollback:
	$(need_env)
	@.venv/bin/python scripts/console_rollback.py --env $(ENV) $(if $(LIST),--list,--steps $(or $(STEPS),1))

## Sends the stream records webhook-events failed on to it again (POSITIONS=1: the failed
## batches, read again from the stream within 24 h; DRY_RUN=1: only says what it would do).
replay-stream-records:
	$(need_env)
	@.venv/bin/python scripts/replay_stream_records.py --env $(ENV) $(if $(POSITIONS),--positions) $(if $(DRY_RUN),--dry-run)

## sam sync for dev only (it skips change sets and canaries).
sync:
	@[ "$(ENV)" = dev ] || { echo "error: sam sync is for dev only: make sync ENV=dev (prod: make deploy ENV=prod)" >&2; exit 1; }
	.venv/bin/sam sync --config-env dev

## Scans template.yaml with checkov (settings and skips in .checkov.yaml).
checkov:
	@scripts/bootstrap.sh && scripts/checkov.sh
