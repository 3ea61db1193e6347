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

RUN_DIR="$ROOT/.local/test"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
trap stop_all EXIT

step "Starting the local DynamoDB server (moto) for the tests"
moto_port=$(free_port)
start_bg "$RUN_DIR/moto.log" "$PY" "$ROOT/scripts/moto_serialized.py" -H 127.0.0.1 -p "$moto_port"
wait_for_http "http://127.0.0.1:$moto_port/moto-api/" 60 "moto" "$RUN_DIR/moto.log" "$LAST_PID"
tables=$("$PY" "$ROOT/scripts/local_tables.py" --endpoint "http://127.0.0.1:$moto_port" --stack-name tenantry-test)
info "moto on 127.0.0.1:$moto_port, tables: $tables"

export TENANTRY_DYNAMODB_ENDPOINT="http://127.0.0.1:$moto_port"
table() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$tables" "$1"; }
export TENANTRY_DATA_TABLE=$(table DataTable)
export TENANTRY_CONTROL_TABLE=$(table ControlTable)

step "Running the test suite (cargo test --workspace)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$RUN_DIR/cargo-test.log"
status=${PIPESTATUS[0]}
set -e
grep -E '^test result:' "$RUN_DIR/cargo-test.log" | awk '{p+=$4; f+=$6; i+=$8} END {printf "    %d passed, %d failed, %d ignored\n", p, f, i}' >&2
exit "$status"
