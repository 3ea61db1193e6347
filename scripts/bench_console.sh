#!/usr/bin/env bash
# `make bench-console`: starts the local stack on free ports (it builds the console), measures the
# console's sizes and the home page's first meaningful paint (15 reloads), and rewrites the
# console's section of docs/PERFORMANCE.md. Stops everything it started.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/bootstrap.sh"
RUN_DIR="$ROOT/.local/bench-console"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
trap stop_all EXIT
start_test_stack ".local/bench-console-stack" "$RUN_DIR"
step "Measuring the console (tests/console_budget.mjs)"
node "$ROOT/tests/console_budget.mjs" --check --paint 15 --write
