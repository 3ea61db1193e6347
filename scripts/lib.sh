# Shared by the scripts in this folder: logging, the repo root, the tool locations, free ports,
# and starting/stopping background servers. Source it; don't run it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
CHECKOV_VENV="$ROOT/.venv-checkov"
export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# A TCP port nobody listens on, chosen by the kernel.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_http URL SECONDS NAME LOGFILE PID: polls URL until it answers (any status).
wait_for_http() {
  local url=$1 seconds=$2 name=$3 log=$4 pid=$5 waited=0
  until curl -s -o /dev/null "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log" >&2 || true
      die "$name exited during start-up (log: $log)"
    fi
    if (( waited >= seconds * 10 )); then
      tail -n 40 "$log" >&2 || true
      die "$name did not answer at $url within ${seconds}s (log: $log)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# Background processes started by the sourcing script; stopped by stop_all.
PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

# start_bg LOGFILE COMMAND...: runs COMMAND in its own process group, output to LOGFILE.
start_bg() {
  local log=$1; shift
  setsid "$@" >"$log" 2>&1 < /dev/null &
  PIDS+=("$!")
  LAST_PID=$!
}

# start_test_stack DIR RUN_DIR: starts the local stack on free ports in DIR (relative to the
# repository), waits for it, and exports TENANTRY_STACK and the DynamoDB endpoint and tables the
# tests read. Stopped by stop_all.
start_test_stack() {
  local STACK_DIR=$1 RUN_DIR=$2 stack_pid waited

  step "Starting the local stack on free ports (moto, cognito-local with the triggers, cargo lambda watch, local gateway)"
  start_bg "$RUN_DIR/stack.log" "$PY" "$ROOT/local/local_stack.py" up --dir "$STACK_DIR" --free-ports --quiet --delivery-code "$(python3 -c 'import secrets; print(secrets.randbelow(900000) + 100000)')"
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
}
