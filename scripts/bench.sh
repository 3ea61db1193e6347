#!/usr/bin/env bash
# `make bench`: cold-start and latency figures for products-api and pre-token-generation, side by
# side with a hello-world floor and with the same functions in Python/boto3.
#
# Installs what it needs (scripts/bootstrap.sh), builds the release binaries, zips them as Lambda
# would, starts a local DynamoDB server (moto) with the tables from template.yaml and the items
# the sample events read, runs bench-harness against its own stub and against moto, and rewrites
# docs/PERFORMANCE.md. Stops everything it started.
#
#   scripts/bench.sh            the full run: 20 cold starts and 1000 warm invocations per subject
#   scripts/bench.sh --smoke    a quick run of the same code (debug binaries, a few iterations),
#                               which writes its report under .local/ and asserts no figure
#
# BENCH_COLD_STARTS and BENCH_WARM override the counts of a full run (for trying things out; the
# figures in docs/ are from the defaults). CARGO_TARGET_DIR is honoured.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

mode=full
case "${1:-}" in
  "") ;;
  --smoke) mode=smoke ;;
  *) die "usage: scripts/bench.sh [--smoke]" ;;
esac
started=$SECONDS

"$ROOT/scripts/bootstrap.sh"

target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ $mode == full ]]; then
  RUN_DIR="$ROOT/.local/bench"
  cold_starts=${BENCH_COLD_STARTS:-20}
  warm=${BENCH_WARM:-1000}
  report="$ROOT/docs/PERFORMANCE.md"
  step "Building the release binaries (fat LTO: a few minutes from clean)"
  # One invocation for the functions and the floor, so their shared dependencies compile once,
  # with the same features they are deployed with. The harness is built apart so that its own
  # dependencies' features never leak into the binaries it measures.
  cargo build --release -p products-api -p pre-token-generation -p bench-hello
  cargo build --release -p bench-harness
  bin_dir="$target_dir/release"
else
  RUN_DIR="$ROOT/.local/bench-smoke"
  cold_starts=2
  warm=20
  report="$RUN_DIR/PERFORMANCE.md"
  step "Building the functions and the harness (debug: the smoke run asserts no figure)"
  # --workspace keeps the features `cargo test --workspace` compiled the dependencies with, so
  # nothing is recompiled but these binaries.
  cargo build --workspace --bin products-api --bin pre-token-generation --bin bench-hello --bin bench-harness
  bin_dir="$target_dir/debug"
fi
rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/artifacts" "$RUN_DIR/logs"
trap stop_all EXIT

# zip_as_lambda OUT.zip FILE NAME: a deflated zip holding FILE as NAME, as `cargo lambda build
# --output-format zip` packs a binary (as `bootstrap`) and SAM packs a Python handler.
zip_as_lambda() {
  "$PY" - "$@" <<'EOF'
import sys, zipfile
out, path, name = sys.argv[1:4]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.write(path, arcname=name)
EOF
}

step "Packaging the deployables"
if [[ $mode == full ]]; then
  for binary in products-api pre-token-generation bench-hello; do
    zip_as_lambda "$RUN_DIR/artifacts/$binary.zip" "$bin_dir/$binary" bootstrap
  done
fi
for module in products pre_token hello; do
  zip_as_lambda "$RUN_DIR/artifacts/python-$module.zip" "$ROOT/bench/baselines/python/$module.py" "$module.py"
done
info "$(cd "$RUN_DIR/artifacts" && ls -l --block-size=1 | awk 'NR>1 {printf "%s %s B; ", $9, $5}')"

step "Starting the local DynamoDB/STS server (moto) with the tables and the sample items"
moto_port=$(free_port)
start_bg "$RUN_DIR/moto.log" "$PY" "$ROOT/local/moto_serialized.py" -H 127.0.0.1 -p "$moto_port"
wait_for_http "http://127.0.0.1:$moto_port/moto-api/" 60 "moto" "$RUN_DIR/moto.log" "$LAST_PID"
moto_url="http://127.0.0.1:$moto_port"
tables=$("$PY" "$ROOT/local/local_tables.py" --endpoint "$moto_url" --stack-name bench)
table() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$tables" "$1"; }
data_table=$(table DataTable)
control_table=$(table ControlTable)
"$PY" "$ROOT/bench/moto_seed.py" --endpoint "$moto_url" --data-table "$data_table" --control-table "$control_table"
info "moto on 127.0.0.1:$moto_port, tables $data_table and $control_table"

toolchain="$(rustc --version | cut -d' ' -f1-2), $mode profile $(basename "$bin_dir"); $("$PY" -c '
import sys, boto3, awslambdaric
print(f"Python {sys.version.split()[0]}, boto3 {boto3.__version__}, awslambdaric {awslambdaric.__version__}")')"

step "Running the harness: $cold_starts cold starts and $warm warm invocations per subject, stub then moto"
"$bin_dir/bench-harness" \
  --bin-dir "$bin_dir" \
  --python "$PY" \
  --python-dir "$ROOT/bench/baselines/python" \
  --events "$ROOT/events" \
  --cold-starts "$cold_starts" \
  --warm "$warm" \
  --moto "$moto_url" \
  --data-table "$data_table" \
  --control-table "$control_table" \
  --artifacts "$RUN_DIR/artifacts" \
  --log-dir "$RUN_DIR/logs" \
  --json "$RUN_DIR/results.json" \
  --markdown "$report" \
  --notes "$ROOT/bench/FINDINGS.md" \
  --toolchain "$toolchain"

info "report: ${report#"$ROOT/"}; raw figures: ${RUN_DIR#"$ROOT/"}/results.json; function logs: ${RUN_DIR#"$ROOT/"}/logs"
info "took $((SECONDS - started)) s"
