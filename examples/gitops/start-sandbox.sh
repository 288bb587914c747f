#!/usr/bin/env bash
# Start a Leadterra sandbox for one stack, seeded from that stack's own file, and wait until it
# answers. Run from the repository root after `make venv` (or any .venv with the project):
#   examples/gitops/start-sandbox.sh dev
# Environment: SANDBOX_PORT (default 8787), RUNNER_TEMP (default: a new temporary folder),
# PYTHON (default .venv/bin/python). Writes the sandbox's pid to $RUNNER_TEMP/sandbox-<stack>.pid.
set -euo pipefail

stack="${1:?usage: start-sandbox.sh STACK}"
port="${SANDBOX_PORT:-8787}"
tmp="${RUNNER_TEMP:-$(mktemp -d)}"
python="${PYTHON:-.venv/bin/python}"
stack_file="examples/promotion/Pulumi.${stack}.yaml"

"$python" examples/promotion/sandbox_seed.py "$stack_file" > "$tmp/seed-${stack}.json"
"$python" -m pulumi_leadterra.sandbox --port "$port" --state "$tmp/sandbox-${stack}.db" \
  --seed "$tmp/seed-${stack}.json" > "$tmp/sandbox-${stack}.log" 2>&1 &
echo $! > "$tmp/sandbox-${stack}.pid"

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:${port}/_sandbox/requests" > /dev/null 2>&1; then
    echo "sandbox for ${stack} ready on http://127.0.0.1:${port}"
    exit 0
  fi
  sleep 0.1
done
echo "the sandbox for ${stack} did not answer on 127.0.0.1:${port} within 10 s:" >&2
cat "$tmp/sandbox-${stack}.log" >&2
exit 1
