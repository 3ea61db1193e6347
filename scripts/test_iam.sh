#!/usr/bin/env bash
# Proves the IAM policies of template.yaml with an IAM policy evaluator (tests/iam: Node's test
# runner and the npm library @cloud-copilot/iam-simulate, a test-only tool). No local server
# enforces IAM conditions, so this is where dynamodb:LeadingKeys and the trust policy are checked.
#
# Installs the pinned npm packages when tests/iam/node_modules is missing or package.json /
# package-lock.json changed (npm ci), then runs every tests/iam/*.test.mjs (or the files given as
# arguments, relative to tests/iam). The full report goes to .local/test-iam/; this prints a
# short summary, and the whole report when something fails. `make test` calls it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

IAM_DIR="$ROOT/tests/iam"
LOG_DIR="$ROOT/.local/test-iam"

command -v node >/dev/null || die "node is not installed: tests/iam needs Node.js 20 or newer (with npm)"
command -v npm >/dev/null || die "npm is not installed: tests/iam needs it to install its packages"
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || die "Node.js $(node --version) is too old: tests/iam needs 20 or newer"

# ---- install (idempotent): npm ci only when the lock file (or package.json) changed
stamp="$IAM_DIR/node_modules/.tenantry-installed.sha256"
wanted=$(cat "$IAM_DIR/package.json" "$IAM_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ ! -d "$IAM_DIR/node_modules" || ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
  step "Installing the IAM test tools (npm ci in tests/iam)"
  (cd "$IAM_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) \
    || die "npm ci failed in tests/iam (is the npm registry reachable?)"
  echo "$wanted" >"$stamp"
fi

# ---- run
step "IAM policy tests (tests/iam, node --test)"
mkdir -p "$LOG_DIR"
tap="$LOG_DIR/report.tap"
spec="$LOG_DIR/report.txt"
if (( $# > 0 )); then
  files=("$@")
else
  files=()
  for file in "$IAM_DIR"/*.test.mjs; do files+=("$(basename "$file")"); done
fi
started=$(date +%s%N)
set +e
(cd "$IAM_DIR" && node --test \
  --test-reporter=tap --test-reporter-destination="$tap" \
  --test-reporter=spec --test-reporter-destination="$spec" \
  "${files[@]}")
status=$?
set -e
elapsed=$(( ($(date +%s%N) - started) / 1000000 ))

count() { sed -n "s/^# $1 \([0-9][0-9]*\)\$/\1/p" "$tap" | tail -n 1; }
tests=$(count tests); pass=$(count pass); fail=$(count fail); todo=$(count todo)
cancelled=$(count cancelled); skipped=$(count skipped)

if (( status != 0 )) || [[ -z "$tests" ]]; then
  cat "$spec" >&2
fi
if [[ -n "${todo:-}" && "$todo" != 0 ]]; then
  info "known template weaknesses, reported as todo (not failures; see tests/iam/weaknesses.test.mjs):"
  sed -n 's/^ *not ok [0-9]* - \(.*\) # TODO .*$/      - \1/p' "$tap" >&2
fi
info "${tests:-?} tests (${todo:-0} todo, ${skipped:-0} skipped, ${cancelled:-0} cancelled) in $((elapsed / 1000)).$(( (elapsed % 1000) / 100 ))s; report: ${spec#"$ROOT"/}"
printf 'iam: %s passed, %s failed\n' "${pass:-0}" "$(( ${fail:-0} + ${cancelled:-0} ))"
if (( status == 0 )) && [[ -z "$tests" ]]; then
  die "node --test printed no summary (see $spec)"
fi
exit "$status"
