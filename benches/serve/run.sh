#!/usr/bin/env bash
# Load test of `burnguard serve`: wrk (Debian's `wrk`) drives reserve+commit pairs over
# keep-alive connections on this machine; prints throughput, latency and the server's CPU
# per request (from /proc). Usage: bash benches/serve/run.sh [connections] [seconds] [mode]
# (the server logs and syncs every change in a temporary --data-dir; mode "memory" keeps it in
# memory, mode "redis" in a redis-server started here on a free port, whose CPU is not counted).
set -euo pipefail
connections=${1:-8}
seconds=${2:-20}
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp)
data=$(mktemp -d)
durable=(--data-dir "$data")
redis=""
if [ "${3:-}" = memory ]; then durable=(); fi
if [ "${3:-}" = redis ]; then
    redis_port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no > /dev/null &
    redis=$!
    sleep 0.5
    durable=(--redis "redis://127.0.0.1:$redis_port/0")
fi
python -m burnguard serve --dev --port "$port" "${durable[@]}" > "$out" &
server=$!
trap 'kill $server $redis 2>/dev/null; rm -rf "$out" "$data"' EXIT
for _ in $(seq 50); do grep -q CYCLES_API_KEY "$out" && break; sleep 0.1; done
eval "$(grep CYCLES_ "$out")"
export CYCLES_API_KEY
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
before=$(ticks)
report=$(wrk -t2 -c"$connections" -d"${seconds}s" -s "$(dirname "$0")/pairs.lua" --latency "$CYCLES_BASE_URL")
after=$(ticks)
echo "$report" | grep -E "50%|90%|99%|Requests/sec"
requests=$(echo "$report" | awk '/requests in/ {print $1}')
hz=$(getconf CLK_TCK)
python - "$requests" "$before" "$after" "$hz" "$seconds" <<'PY'
import sys
requests, before, after, hz, seconds = (float(v) for v in sys.argv[1:])
print(f"pairs/s: {requests / 2 / seconds:,.0f}; server CPU per request: {(after - before) / hz / requests * 1e6:.1f} us")
PY
