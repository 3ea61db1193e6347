#!/usr/bin/env bash
# Installs the local tooling into the repository, idempotently: a Python venv (.venv) with moto,
# cfn-lint, SAM CLI, cargo-lambda and the AWS CLI, and one for checkov (.venv-checkov). Nothing
# is installed outside the repo.
source "$(dirname "$0")/lib.sh"

command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
command -v python3 >/dev/null || die "python3 (3.9 or later) is required"
command -v curl >/dev/null || die "curl is required"

stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$ROOT/requirements-dev.txt" | cut -d' ' -f1)
if [[ -x "$PY" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  info "Python tools are up to date (.venv)"
else
  step "Installing Python tools into .venv (first run: about a minute)"
  [[ -x "$PY" ]] || python3 -m venv "$VENV"
  "$PY" -m pip install --quiet --upgrade pip
  "$PY" -m pip install --quiet --progress-bar off -r "$ROOT/requirements-dev.txt"
  echo "$want" > "$stamp"
  info "installed: $("$VENV/bin/moto_server" --version 2>/dev/null | head -1 || echo moto), $("$VENV/bin/cfn-lint" --version), $("$VENV/bin/sam" --version)"
fi

# checkov, in a venv of its own (its pins conflict with the AWS CLI's: requirements-checkov.txt).
checkov_stamp="$CHECKOV_VENV/.requirements.sha256"
want=$(sha256sum "$ROOT/requirements-checkov.txt" | cut -d' ' -f1)
if [[ -x "$CHECKOV_VENV/bin/checkov" && -f "$checkov_stamp" && "$(cat "$checkov_stamp")" == "$want" ]]; then
  info "checkov is up to date (.venv-checkov)"
else
  step "Installing checkov into .venv-checkov (first run: about 30 seconds)"
  [[ -x "$CHECKOV_VENV/bin/python" ]] || python3 -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$CHECKOV_VENV/bin/python" -m pip install --quiet --progress-bar off -r "$ROOT/requirements-checkov.txt"
  echo "$want" > "$checkov_stamp"
  info "installed: checkov $("$CHECKOV_VENV/bin/checkov" --version)"
fi

command -v node >/dev/null || die "node (20 or later) and npm are required for the local Cognito (cognito-local)"
# npm_ci DIR WHAT: installs the package in DIR from its lock file, unless it is installed from
# that lock file already.
npm_ci() {
  local dir=$1 what=$2 stamp="$1/node_modules/.package-lock.sha256" want where
  where=$( [[ "$dir" == "$ROOT" ]] && echo node_modules || echo "${dir#"$ROOT/"}/node_modules" )
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    info "npm packages are up to date ($where: $what)"
  else
    step "Installing npm packages into $where ($what)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
npm_ci "$ROOT" "cognito-local, Redoc, playwright-core, axe-core"
npm_ci "$ROOT/console" "the console's Preact, Vite, TypeScript"

# Pages are tested in a real browser: Debian's Chromium (Playwright's own download cannot be
# used here). Installed with apt when missing and allowed; otherwise say how.
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ -x "$CHROMIUM" ]]; then
  info "browser: $("$CHROMIUM" --version 2>/dev/null | head -1)"
elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  step "Installing Chromium (Debian's package) for the browser tests"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
    || die "could not install chromium with apt-get"
  info "browser: $("$CHROMIUM" --version 2>/dev/null | head -1)"
else
  die "the browser tests need Chromium at $CHROMIUM: install it (sudo apt-get install chromium) or set CHROMIUM to another Chromium"
fi
