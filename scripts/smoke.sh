#!/usr/bin/env bash
# Smoke test of `make run` as a user meets it: start it in the background, wait until /readyz answers 200 and
# the "Proxima is running" banner is printed, stop it (as Ctrl-C would), and check that everything it started
# stopped. Prints how long the start took.
#   PORT=8000 SMOKE_TIMEOUT=900 scripts/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8000}"
timeout="${SMOKE_TIMEOUT:-900}"
log="$(mktemp -t proxima-smoke.XXXXXX.log)"
url="http://127.0.0.1:$port/readyz"

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "ERROR: something already listens on 127.0.0.1:$port; set PORT=…" >&2
    exit 1
fi

echo "==> make run (PORT=$port), log in $log" >&2
started=$(date +%s.%N)
PORT="$port" setsid make run >"$log" 2>&1 </dev/null &
make_pid=$!

stop() {
    if kill -0 "$make_pid" 2>/dev/null; then
        # SIGINT to the whole process group is exactly what Ctrl-C in a terminal does.
        kill -INT -- "-$make_pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 -- "-$make_pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$make_pid" 2>/dev/null || true
    fi
}
trap stop EXIT

ready=0
deadline=$(( $(date +%s) + timeout ))
while [[ $(date +%s) -lt $deadline ]]; do
    if ! kill -0 "$make_pid" 2>/dev/null; then
        echo "ERROR: make run exited before the service was ready; last lines of the log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    body="$(python3 -c "import sys, urllib.request
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=2); print(r.status, r.read().decode())
except Exception as exc:
    print('-', exc)" "$url")"
    # Ready means /readyz answers 200 and run.sh got to its banner (gunicorn and the RQ worker both started).
    if [[ $body == 200* ]] && grep -q "Proxima is running" "$log"; then ready=1; break; fi
    sleep 1
done
elapsed=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)")
if [[ $ready -ne 1 ]]; then
    echo "ERROR: /readyz did not answer 200 within ${timeout}s; last lines of the log:" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
echo "    /readyz answered ${body#200 } after ${elapsed}s" >&2

echo "==> stopping make run (SIGINT to its process group, as Ctrl-C does)" >&2
stop
trap - EXIT
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "ERROR: port $port still answers after stopping" >&2
    exit 1
fi
echo "    stopped; port $port is free" >&2
if pgrep -g "$make_pid" >/dev/null 2>&1; then
    echo "ERROR: processes of make run are still running after stopping:" >&2
    ps -o pid,args -g "$make_pid" >&2 || true
    exit 1
fi
grep -E "Starting the RQ worker|flask worker' does not exist" "$log" | sed 's/^/    /' >&2 || true
echo "smoke: make run ready in ${elapsed}s"
