#!/usr/bin/env bash
# Walking every project the reader sees, side by side (issue 10): Gatehouse's list in pages of
# 100 (following `next` to the end) against the plain DRF + simplejwt + guardian stack's one
# unpaginated list (../shared/anchors/drf-plain), both on SQLite at 100k projects with 5,000
# visible, each served by gunicorn (2 sync workers) pinned to CPU 1, wrk (1 thread, 20
# connections) pinned to CPU 0, rounds interleaved. Prints walks/s, lists/s and their ratio.
#
#   GH_DB=/path/gatehouse-100k-5000.sqlite3 bash benchmarks/walk.sh
#
# GH_DB: a Gatehouse database seeded with `manage.py seed_benchmark --projects 100000 --visible
# 5000` whose reader signs in with password `bench-pass` (the anchors' gatehouse/seed_meta.py).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); SRC=${GH_SRC:-$(cd "$HERE/.." && pwd)}  # GH_SRC: another checkout (before/after)
ANCHORS=${ANCHORS:-/work/shared/anchors}; DRF_DB=${DRF_DB:-/tmp/peers-drf-data/db_100k_5000.sqlite3}
GH_DB=${GH_DB:?a seeded Gatehouse database}; V_DRF=${V_DRF:-/tmp/peers-venv-drf-plain}
DURATION=${DURATION:-10}; RUNS=${RUNS:-3}; CONNS=${CONNS:-20}; PORT=${PORT:-18771}
OUT=${OUT:-/tmp/walk-$(date +%Y%m%d-%H%M%S)}; mkdir -p "$OUT"
exec 9>/tmp/anchors-bench.lock; flock 9  # never at the same time as the anchors' bench
PASSWORD=bench-pass
export BENCH_PASSWORD=$PASSWORD
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
RATE=1000000000/minute
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

serve() {  # PORT DIR APP VENV [VAR=value ...]
  local port=$1 dir=$2 app=$3 venv=$4 i; shift 4
  # An empty config: gunicorn would otherwise read ./gunicorn.conf.py of the directory it starts in.
  env "$@" taskset -c 1 "$venv/bin/gunicorn" -c "$ANCHORS/gatehouse/gunicorn.conf.py" -w 2 -b "127.0.0.1:$port" \
    --chdir "$dir" --log-level warning \
    "$app" >>"$OUT/server-$port.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 150); do
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/")" != 000 ] && return 0
    sleep 0.2
  done
  echo "server on $port did not start: $OUT/server-$port.log" >&2; exit 1
}
serve $PORT "$ANCHORS/drf-plain" benchsite.wsgi:application "$V_DRF" \
  "DRF_DB=$DRF_DB" "DJANGO_SECRET_KEY=$SECRET" "JWT_SECRET_KEY=$SECRET"
serve $((PORT + 1)) "$SRC" project.wsgi:application "$SRC/.venv" DJANGO_ENV=development DJANGO_DEBUG=0 \
  "SECRET_KEY=$SECRET" "JWT_SIGNING_KEY=$SECRET" JWT_ALGORITHM=HS256 REDIS_URL= LOG_LEVEL=WARNING \
  "DATABASE_URL=sqlite:///$GH_DB" \
  RATE_LIMIT_USER=$RATE RATE_LIMIT_ANON=$RATE RATE_LIMIT_SIGN_IN=$RATE RATE_LIMIT_REFRESH=$RATE

token() {  # URL BODY FIELD
  curl -s -m 60 -X POST -H 'Content-Type: application/json' -d "$2" "$1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}
run() {  # NAME URL-BASE PATH AUTH
  local line
  line=$(WALK_PATH=$3 WALK_AUTH=$4 taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 60s \
    -s "$HERE/walk.lua" "$2" | tee -a "$OUT/wrk.log" | grep '^WALKS')
  echo "$1 $line" | tee -a "$OUT/results.txt"
}
D=http://127.0.0.1:$PORT; G=http://127.0.0.1:$((PORT + 1))
for r in $(seq 1 "$RUNS"); do
  DRF_AUTH="Bearer $(token "$D/api/token/" "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" access)"
  GH_AUTH="Bearer $(token "$G/api/v1/auth/token/" "{\"email\":\"bench-reader@example.com\",\"password\":\"$PASSWORD\"}" access)"
  run drf-plain-list "$D" /api/projects/ "$DRF_AUTH"
  run gatehouse-walk "$G" "/api/v1/projects/?page_size=100" "$GH_AUTH"
done
python3 - "$OUT/results.txt" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    name, _, walks, _, pages, _, errors, _, seconds = line.split()
    assert errors == "0", line
    rates.setdefault(name, []).append((int(walks) / float(seconds), int(pages) / float(seconds)))
lists = statistics.median(w for w, _ in rates["drf-plain-list"])
walks = statistics.median(w for w, _ in rates["gatehouse-walk"])
pages = statistics.median(p for _, p in rates["gatehouse-walk"])
print(f"plain stack, one unpaginated list of 5,000: {lists:.2f} lists/s")
print(f"Gatehouse, 50 pages of 100 via next:        {walks:.2f} walks/s ({pages:.1f} pages/s)")
print(f"ratio walks/s : lists/s = {walks / lists:.2f}x (target >= 2x)")
PY
