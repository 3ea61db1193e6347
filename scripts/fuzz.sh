#!/usr/bin/env bash
# `make fuzz`: the API contract test of `make test`, longer: a fresh local stack, then
# Schemathesis with FUZZ_EXAMPLES (default 200) examples per operation, as an organization's
# admin, a member and a platform operator. Reports under .local/fuzz/contract/.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/bootstrap.sh"
RUN_DIR="$ROOT/.local/fuzz"
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR"
trap stop_all EXIT
start_test_stack ".local/fuzz-stack" "$RUN_DIR"

step "API contract (Schemathesis, ${FUZZ_EXAMPLES:-200} examples per operation)"
"$PY" "$ROOT/tests/contract_test.py" --stack "$TENANTRY_STACK" --max-examples "${FUZZ_EXAMPLES:-200}" \
  --report-dir "$RUN_DIR/contract"
