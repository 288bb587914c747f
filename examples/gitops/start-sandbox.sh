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
port_file="$tmp/sandbox-${stack}.port"  # written by our sandbox once it holds the port
rm -f "$port_file"
"$python" -m pulumi_leadterra.sandbox --port "$port" --state "$tmp/sandbox-${stack}.db" \
  --seed "$tmp/seed-${stack}.json" --port-file "$port_file" > "$tmp/sandbox-${stack}.log" 2>&1 &
pid=$!
echo "$pid" > "$tmp/sandbox-${stack}.pid"

for _ in $(seq 1 100); do
  # Our own sandbox must be the one answering: another server already on the port would answer
  # too, while ours died with "Address already in use". Ours writes its port file once bound.
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the sandbox for ${stack} exited before it answered on 127.0.0.1:${port}:" >&2
    cat "$tmp/sandbox-${stack}.log" >&2
    exit 1
  fi
  if [[ -s "$port_file" ]] && curl -fsS --max-time 1 "http://127.0.0.1:${port}/_sandbox/requests" > /dev/null 2>&1; then
    echo "sandbox for ${stack} ready on http://127.0.0.1:${port}"
    exit 0
  fi
  sleep 0.1
done
echo "the sandbox for ${stack} did not answer on 127.0.0.1:${port} within 10 s:" >&2
cat "$tmp/sandbox-${stack}.log" >&2
exit 1
