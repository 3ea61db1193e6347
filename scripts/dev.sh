#!/usr/bin/env bash
# `make dev`: installs what the local stack needs, then runs the whole system on 127.0.0.1 until
# Ctrl-C (see local/local_stack.py).
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/bootstrap.sh"
exec "$PY" "$ROOT/local/local_stack.py" up --dir .local/dev --watch-console "$@"
