#!/usr/bin/env bash
# Creates .venv (if missing) and installs the Python SDK (sdk/python, editable) with its pinned
# dependencies (grpcio, protobuf) and pytest. Idempotent: when nothing changed since the last
# run it does nothing and prints nothing. Then:
#   .venv/bin/python -m pytest sdk/python/tests
# (the tests start the server with node, so `npm install` must have run too).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=.venv
stamp="$venv/.agentruntime-setup"

# What the install depends on; a change to any of it reinstalls.
want="$(cat sdk/python/pyproject.toml "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
  "$venv/bin/python" -c 'import agentruntime_client, pytest' >/dev/null 2>&1; then
  exit 0
fi

python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$venv/bin/python" -m pip install --quiet --upgrade "pip==26.3"
"$venv/bin/python" -m pip install --quiet --editable "./sdk/python[test]"
"$venv/bin/python" -c 'import agentruntime_client, pytest'
echo "$want" >"$stamp"
echo "setup-python: $venv ready ($("$venv/bin/python" -c 'import grpc, google.protobuf, pytest; print("grpcio", grpc.__version__, "protobuf", google.protobuf.__version__, "pytest", pytest.__version__)'))"
