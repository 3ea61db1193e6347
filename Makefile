# The logic lives in scripts/; these targets are the entry points the README documents.
.PHONY: test dev bench bench-console fuzz fmt events openapi docs

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
	python3 scripts/openapi.py

## Serves the API reference (docs/api.html: Redoc rendering docs/openapi.json) on 127.0.0.1:8088.
docs:
	@scripts/bootstrap.sh && .venv/bin/python scripts/serve_docs.py

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
	@scripts/bench-console.sh
