#!/usr/bin/env bash
# `make test`: installs what the tests need, checks formatting, lints and the SAM template, starts
# a local DynamoDB server (moto) on a free port, creates the tables from template.yaml, runs the
# whole test suite against it, and stops everything it started.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/bootstrap.sh"

step "Formatting and lints (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --all -- --check || die "code is not formatted: run cargo fmt --all"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Template checks (cfn-lint, sam validate --lint)"
cfn-lint template.yaml
sam validate --lint --template template.yaml 2>&1 | grep -v -i telemetry || true
sam validate --lint --template template.yaml >/dev/null 2>&1 || die "sam validate --lint failed"

"$ROOT/scripts/test-iam.sh"

RUN_DIR="$ROOT/.local/test"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
STACK_DIR=".local/test-stack"
trap stop_all EXIT

step "Starting the local stack on free ports (moto, cognito-local with the triggers, cargo lambda watch, local gateway)"
start_bg "$RUN_DIR/stack.log" "$PY" "$ROOT/scripts/local_stack.py" up --dir "$STACK_DIR" --free-ports --quiet --delivery-code "$(python3 -c 'import secrets; print(secrets.randbelow(900000) + 100000)')"
stack_pid=$LAST_PID
waited=0
until [[ -f "$ROOT/$STACK_DIR/stack.json" ]]; do
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    tail -n 60 "$RUN_DIR/stack.log" >&2
    die "the local stack did not start (log: $RUN_DIR/stack.log, component logs: $STACK_DIR/)"
  fi
  (( waited % 300 == 299 )) && info "still starting ($((waited / 10))s; the first run builds every function)"
  (( waited >= 12000 )) && die "the local stack did not start within 20 minutes (log: $RUN_DIR/stack.log)"
  sleep 0.1
  waited=$((waited + 1))
done
grep -E '^==>' "$RUN_DIR/stack.log" | sed 's/^/    /' >&2 || true
stack_value() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$ROOT/$STACK_DIR/stack.json" "$1"; }
export TENANTRY_STACK="$ROOT/$STACK_DIR/stack.json"
export TENANTRY_DYNAMODB_ENDPOINT=$(stack_value dynamodb_endpoint)
export TENANTRY_DATA_TABLE=$(stack_value 'tables["DataTable"]')
export TENANTRY_CONTROL_TABLE=$(stack_value 'tables["ControlTable"]')
info "API $(stack_value api_url), Cognito $(stack_value cognito_endpoint), DynamoDB $TENANTRY_DYNAMODB_ENDPOINT"

step "Running the test suite (cargo test --workspace)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$RUN_DIR/cargo-test.log"
status=${PIPESTATUS[0]}
set -e
grep -E '^test result:' "$RUN_DIR/cargo-test.log" | awk '{p+=$4; f+=$6; i+=$8} END {printf "    %d passed, %d failed, %d ignored\n", p, f, i}' >&2
(( status == 0 )) || exit "$status"

step "Benchmark harness smoke run (few iterations, no figures asserted)"
"$ROOT/scripts/bench-smoke.sh"
