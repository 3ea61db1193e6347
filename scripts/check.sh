#!/usr/bin/env bash
# `make check`: what can be checked without starting a server, quickly: formatting, clippy, the
# unit and handler tests of every crate but the suites that run against the local stack
# (tenantry-tests), and the console's type check. `make test` runs everything.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

step "Formatting and lints (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --all -- --check || die "code is not formatted: run cargo fmt --all"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Unit and handler tests (cargo test --workspace --exclude tenantry-tests)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cargo test --workspace --exclude tenantry-tests --quiet >"$log" 2>&1; then
  grep -vE '^(running 0 tests|test result: ok. 0 passed.*|)$' "$log" | tail -n 60 >&2
  die "a unit or handler test failed (cargo test --workspace --exclude tenantry-tests)"
fi
grep -E '^test result:' "$log" | awk '{p+=$4; f+=$6; i+=$8} END {printf "    %d passed, %d failed, %d ignored\n", p, f, i}' >&2

step "The console's type check (tsc -p console)"
if [[ ! -d "$ROOT/console/node_modules/typescript" ]]; then
  (cd "$ROOT/console" && npm ci --no-audit --no-fund --loglevel=error)
fi
npm run --silent console:types
npm run --silent console:check
info "all quick checks passed"
