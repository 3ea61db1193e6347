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

step "Template and API document checks (cfn-lint with informational rules, sam validate --lint, checkov, docs/openapi.json)"
cfn-lint --include-checks I -- template.yaml console-firewall.yaml
sam validate --lint --template template.yaml 2>&1 | grep -v -i telemetry || true
sam validate --lint --template template.yaml >/dev/null 2>&1 || die "sam validate --lint failed"
"$ROOT/scripts/checkov.sh"
"$PY" "$ROOT/scripts/openapi.py" --check

"$ROOT/scripts/test_iam.sh"

step "The API reference page in a real browser (tests/docs_test.mjs: Chromium, every operation, nothing from another origin, 375 px)"
node "$ROOT/tests/docs_test.mjs"

step "The stand-ins' and scripts' tests (local/test_*.py: the stand-ins' patterns, checks and stream filters, the console's server; scripts/test_*.py, against moto: the preflight, the replay of stream records, the console's rollback)"
PYTHONDONTWRITEBYTECODE=1 "$PY" -m unittest discover -b -s "$ROOT/local" -p 'test_*.py'
PYTHONDONTWRITEBYTECODE=1 "$PY" -m unittest discover -b -s "$ROOT/scripts" -p 'test_*.py'

RUN_DIR="$ROOT/.local/test"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
trap stop_all EXIT
start_test_stack ".local/test-stack" "$RUN_DIR"

step "Running the test suite (cargo test --workspace)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee "$RUN_DIR/cargo-test.log"
status=${PIPESTATUS[0]}
set -e
grep -E '^test result:' "$RUN_DIR/cargo-test.log" | awk '{p+=$4; f+=$6; i+=$8} END {printf "    %d passed, %d failed, %d ignored\n", p, f, i}' >&2
(( status == 0 )) || exit "$status"

step "API contract (Schemathesis against the local stack, 10 examples per operation, about a minute; more: make fuzz)"
"$PY" "$ROOT/tests/contract_test.py" --stack "$TENANTRY_STACK" --max-examples 10 --report-dir "$RUN_DIR/contract" \
  >"$RUN_DIR/contract.log" 2>&1 || { tail -n 80 "$RUN_DIR/contract.log" >&2; die "the API answered outside docs/openapi.json (log: $RUN_DIR/contract.log)"; }
grep -E '^    schemathesis' "$RUN_DIR/contract.log" >&2 || true

step "The web console in a real browser (console/tests: Chromium, every journey, axe-core, screenshots in .local/console/)"
node --test --test-reporter=spec console/tests/ 2>&1 | tee "$RUN_DIR/console-test.log" | grep -E '^\s*(✔|✖|ℹ (tests|pass|fail))' >&2 \
  || true
grep -qE '^ℹ fail 0$' "$RUN_DIR/console-test.log" || { tail -n 80 "$RUN_DIR/console-test.log" >&2; die "a console journey failed (log: $RUN_DIR/console-test.log; screenshots: .local/console/)"; }
node "$ROOT/tests/console_budget.mjs" --check --paint 3

step "Benchmark harness smoke run (few iterations, no figures asserted)"
"$ROOT/scripts/bench_smoke.sh"
