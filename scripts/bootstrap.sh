#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: Debian packages (bubblewrap for job sandboxes), a venv, and the
# pinned dependency set from requirements.lock (Airflow's own constraint files cannot be fetched here).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SMFLOW_VENV:-.venv}

if ! command -v bwrap >/dev/null 2>&1 && [ "$(uname -s)" = Linux ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing bubblewrap (job sandboxes)" >&2
    (apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }) \
      || echo "bootstrap: bubblewrap unavailable; jobs fall back to unshare or path mapping" >&2
  fi
fi

stamp="$VENV/.smflow-lock.sha256"
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  "$VENV/bin/python" -m compileall -q plugins >/dev/null || true  # smflow's own bytecode (see below)
  exit 0
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check uv
# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set, nothing would ever cache bytecode, and every job and
# `smflow run` would recompile Airflow, scikit-learn and scipy on import (about 4 s each time).
"$VENV/bin/uv" pip install -q --compile-bytecode --python "$VENV/bin/python" -r requirements.lock
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps -e .
# The build leaves plugins/smflow.egg-info on sys.path (via the editable .pth), which would make Airflow
# discover the plugin entry point twice; the installed dist-info is the one that counts.
rm -rf plugins/smflow.egg-info
"$VENV/bin/python" -m compileall -q plugins >/dev/null || true
echo "$want" > "$stamp"
