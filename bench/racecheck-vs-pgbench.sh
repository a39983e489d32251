#!/usr/bin/env bash
# racecheck with both strategies, then pgbench's prepared INSERT ... ON CONFLICT DO NOTHING at the same
# number of clients, against one PostgreSQL server, in one run. Needs psql and pgbench on PATH.
#   bench/racecheck-vs-pgbench.sh [HOST] [PORT] [USER] [DATABASE] [SECONDS] [PROCS]
set -euo pipefail
host="${1:-127.0.0.1}" port="${2:-5432}" user="${3:-postgres}" db="${4:-test}" seconds="${5:-10}" procs="${6:-3}"
cd "$(dirname "$0")/.."
url="jdbc:postgresql://$host:$port/$db?user=$user"
for strategy in once naive; do
  echo "== once racecheck --strategy $strategy --procs $procs --seconds $seconds"
  ./once racecheck --db "$url" --procs "$procs" --seconds "$seconds" --strategy "$strategy" | tail -n 1 || true
done
psql -q -h "$host" -p "$port" -U "$user" -d "$db" \
  -c "DROP TABLE IF EXISTS once_pgbench; CREATE TABLE once_pgbench (id BIGSERIAL PRIMARY KEY, data BIGINT NOT NULL UNIQUE)" 2>/dev/null
script="$(mktemp)"
printf '\\set data random(1, 1000000000000)\nINSERT INTO once_pgbench (data) VALUES (:data) ON CONFLICT (data) DO NOTHING;\n' > "$script"
echo "== pgbench -M prepared -c $procs -j $procs -T $seconds, INSERT ... ON CONFLICT (data) DO NOTHING"
pgbench -n -M prepared -c "$procs" -j "$procs" -T "$seconds" -f "$script" -h "$host" -p "$port" -U "$user" "$db" 2>&1 \
  | grep -E "^tps|latency average|actually processed"
rm -f "$script"
psql -q -h "$host" -p "$port" -U "$user" -d "$db" -c "DROP TABLE IF EXISTS once_pgbench"
