#!/usr/bin/env bash
# Hit throughput of one `once serve` replica against nginx's proxy_cache (one worker) serving the same
# hot key from the same upstream, with wrk at 64 connections, in one run. Needs nginx and wrk
# (Debian: apt-get install nginx-light wrk); a tool that is missing is skipped with a note.
#   bench/proxy-vs-nginx.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
seconds="${1:-10}" conns="${2:-64}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
chmod 755 "$work" # nginx's worker may run as nobody (when started by root): it must reach its cache directory
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk not found: skipped (apt-get install wrk)"; exit 0; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(free_port) once_port=$(free_port) once_l1_port=$(free_port) nginx_port=$(free_port)

mkdir -p "$work/upstream" && head -c 1024 /dev/zero | tr '\0' 'x' > "$work/upstream/hot"
(cd "$work/upstream" && exec python3 -m http.server "$up" --bind 127.0.0.1 >/dev/null 2>&1) & pids+=($!)

(cd "$work" && exec "$root/once" serve --upstream "http://127.0.0.1:$up" --host 127.0.0.1 --port "$once_port" --near-cache 0 --namespace nl1 >"$work/once.log" 2>&1) & pids+=($!)
(mkdir -p "$work/l1" && cd "$work/l1" && exec "$root/once" serve --upstream "http://127.0.0.1:$up" --host 127.0.0.1 --port "$once_l1_port" >"$work/once-l1.log" 2>&1) & pids+=($!)
for f in once once-l1; do for _ in $(seq 1 600); do grep -q "listening on" "$work/$f.log" 2>/dev/null && break; sleep 0.1; done; done

have_nginx=no
if command -v nginx >/dev/null; then
  mkdir -p "$work/nginx-cache"
  cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  proxy_cache_path $work/nginx-cache levels=1:2 keys_zone=once_bench:10m;
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://127.0.0.1:$up;
      proxy_cache once_bench;
      proxy_cache_valid 200 10m;
      proxy_cache_lock on;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
CONF
  nginx -c "$work/nginx.conf" && have_nginx=yes
else
  echo "nginx not found: skipped (apt-get install nginx-light)"
fi

measure() { # name url
  curl -s -o /dev/null "$2"
  local status; status=$(curl -s -o /dev/null -D - "$2" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache" || tolower($1)=="x-once-cache" {print $2}')
  case "$status" in HIT*) ;; *) echo "$1 does not serve the hot key from its cache (cache status: ${status:-none})" >&2; exit 1;; esac
  wrk -t2 -c"$conns" -d3s "$2" >/dev/null # warm-up
  local rps; rps=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency "$2" | tee "$work/$1.wrk" | awk '/Requests\/sec/ {print $2}')
  echo "$1 $rps $(awk '/ 50%/ {print $2}' "$work/$1.wrk") $(awk '/ 99%/ {print $2}' "$work/$1.wrk")"
}
echo "hot key, wrk -t2 -c$conns -d${seconds}s, one process each, $(nproc) cores:"
printf '%-28s %12s %10s %10s\n' target requests/s p50 p99
results=()
results+=("$(measure once-near-cache "http://127.0.0.1:$once_l1_port/hot")")
[ "$have_nginx" = yes ] && results+=("$(measure nginx "http://127.0.0.1:$nginx_port/hot")")
results+=("$(measure once-sqlite-read "http://127.0.0.1:$once_port/hot")")
for r in "${results[@]}"; do set -- $r; printf '%-28s %12s %10s %10s\n' "$1" "$2" "$3" "$4"; done
if [ "$have_nginx" = yes ]; then
  nginx_rps=$(printf '%s\n' "${results[@]}" | awk '$1=="nginx" {print $2}')
  for r in "${results[@]}"; do set -- $r; [ "$1" = nginx ] || awk -v a="$2" -v b="$nginx_rps" -v n="$1" 'BEGIN {printf "%s / nginx = %.2fx\n", n, a/b}'; done
fi
