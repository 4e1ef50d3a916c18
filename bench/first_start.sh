#!/usr/bin/env bash
# The first ten minutes, timed: clone this checkout into a temporary folder, `make run` there, and
# print the seconds from the clone to the first answer of /readyz and the size of the new .venv.
#
#     bash bench/first_start.sh [PORT]        (default 8765; needs python3, make, curl, git)
#
# Everything it starts (the service and its embedded Postgres) is stopped at the end, and the
# folder removed. pip's downloads come from whatever index pip is configured with.
set -euo pipefail
port=${1:-8765}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/memos-first-start.XXXX)
started=$(date +%s.%N)
git clone -q "$repo" "$dir/p"
setsid bash -c "cd '$dir/p' && exec make run PORT=$port" >"$dir/run.log" 2>&1 &
group=$!
stop() {
    kill -TERM -- "-$group" 2>/dev/null || true
    wait "$group" 2>/dev/null || true
    rm -rf "$dir"
}
trap stop EXIT
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
    if ! kill -0 "$group" 2>/dev/null; then
        echo "make run stopped before answering; its output:" >&2
        cat "$dir/run.log" >&2
        exit 1
    fi
    sleep 0.5
done
ended=$(date +%s.%N)
printf 'clone to first answer: %.1f s\n' "$(echo "$ended - $started" | bc)"
printf 'virtual environment: %s\n' "$(du -sh "$dir/p/.venv" | cut -f1)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "make run said:"
grep -v '^{' "$dir/run.log" | sed 's/^/    /' | head -20
