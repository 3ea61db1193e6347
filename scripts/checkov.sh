#!/usr/bin/env bash
# Scans template.yaml and console-firewall.yaml with checkov (.venv-checkov, settings and skips
# in .checkov.yaml) and fails on any failed check. Then it holds the skips to their rules: each one has a reason (a comment
# above it), names a check of checkov's, and is still needed (the check fails without the skip;
# a skip that no longer does anything must go). `make test` and `make checkov` run it.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

CHECKOV="$CHECKOV_VENV/bin/checkov"
[[ -x "$CHECKOV" ]] || die "checkov is not installed: run scripts/bootstrap.sh (it goes into .venv-checkov)"

out="$ROOT/.local/checkov"
mkdir -p "$out"
started=$(date +%s)
set +e
"$CHECKOV" --config-file .checkov.yaml -f template.yaml -f console-firewall.yaml >"$out/report.txt" 2>&1
status=$?
set -e
summary=$(grep -E '^Passed checks: ' "$out/report.txt" || true)
if (( status != 0 )) || [[ -z "$summary" ]] || ! grep -qE 'Failed checks: 0,' <<<"$summary"; then
  cat "$out/report.txt" >&2
  die "checkov: failed checks (report: ${out#"$ROOT"/}/report.txt)"
fi

# The same scan without the skips, as JSON (run from elsewhere, so .checkov.yaml is not read).
(cd "$out" && "$CHECKOV" -f "$ROOT/template.yaml" -f "$ROOT/console-firewall.yaml" --framework cloudformation -o json \
  >"$out/unskipped.json" 2>/dev/null) || true
"$PY" - "$ROOT/.checkov.yaml" "$out/unskipped.json" <<'PY'
import json, re, sys

config_path, unskipped_path = sys.argv[1:3]
lines = open(config_path).read().splitlines()
skips, problems, in_skips = [], [], False
for number, line in enumerate(lines):
    if re.match(r"^skip-check:\s*$", line):
        in_skips = True
        continue
    if in_skips and re.match(r"^\S", line):
        in_skips = False
    match = re.match(r"^\s+-\s+(\S+)\s*$", line) if in_skips else None
    if not match:
        continue
    skips.append(match.group(1))
    if number == 0 or not lines[number - 1].strip().startswith("#"):
        problems.append(f"{match.group(1)}: no reason (a comment right above it)")

report = json.load(open(unskipped_path))
results = report["results"]
failing = {check["check_id"] for check in results.get("failed_checks", [])}
for check in skips:
    if check not in failing:
        problems.append(f"{check}: skipped, but it fails nowhere in the template without the skip: remove it")
if problems:
    sys.exit("checkov's skips in .checkov.yaml:\n  " + "\n  ".join(problems))
print(f"    {len(skips)} checks skipped in .checkov.yaml, each with its reason and still needed")
PY
info "$summary ($(( $(date +%s) - started ))s; report: ${out#"$ROOT"/}/report.txt)"
