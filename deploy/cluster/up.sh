#!/usr/bin/env bash
# cluster:up - Mnemo's clustered topology as local processes on loopback, no
# containers: 3 nats-server nodes (built from the Go module), redis-server,
# 2 ingest, 3 workers, 2 reapers, query, on the local PostgreSQL (or
# MNEMO_STORE). State and logs under $MNEMO_CLUSTER_DIR (default a temp dir).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${MNEMO_CLUSTER_DIR:-$(mktemp -d /tmp/mnemo-cluster.XXXXXX)}
mkdir -p "$dir/bin" "$dir/logs"
echo "$dir" > /tmp/mnemo-cluster.current

echo "cluster: building into $dir/bin"
(cd "$root" && go build -o "$dir/bin/" ./cmd/mnemo ./services/ingest/cmd/mnemo-ingest ./services/agent-worker/cmd/mnemo-worker \
  ./services/reaper/cmd/mnemo-reaper ./services/query/cmd/mnemo-query)
(cd "$root/pkg" && go build -o "$dir/bin/nats-server" github.com/nats-io/nats-server/v2)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # name, command...
  local name=$1; shift
  "$@" >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

client=(); route=()
for i in 1 2 3; do client+=("$(free_port)"); route+=("$(free_port)"); done
routes=""
for i in 0 1 2; do routes+="nats-route://127.0.0.1:${route[$i]}, "; done
for i in 0 1 2; do
  n=$((i+1))
  cat >"$dir/nats-$n.conf" <<CONF
server_name: n$n
listen: 127.0.0.1:${client[$i]}
jetstream { store_dir: "$dir/nats-$n" }
cluster { name: mnemo-local, listen: 127.0.0.1:${route[$i]}, routes: [ $routes ] }
CONF
  start "nats-$n" "$dir/bin/nats-server" -c "$dir/nats-$n.conf"
done
nats_url="nats://127.0.0.1:${client[0]},nats://127.0.0.1:${client[1]},nats://127.0.0.1:${client[2]}"

redis_port=$(free_port)
start redis redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$dir"

if [ -z "${MNEMO_STORE:-}" ]; then
  db="mnemo_cluster_$$"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
  MNEMO_STORE="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
  echo "$db" >"$dir/pgdb"
fi
export MNEMO_NATS_URL=$nats_url MNEMO_REDIS_URL="redis://127.0.0.1:$redis_port/0" MNEMO_STORE MNEMO_REPLICAS=3 \
  MNEMO_MEMBER_TTL=5s MNEMO_REBALANCE=1s MNEMO_LOG_LEVEL=info
sleep 2
for i in 1 2 3; do MNEMO_WORKER_ID=w$i start "worker-$i" "$dir/bin/mnemo-worker"; done
sleep 2 # the first worker creates the R3 streams and consumers
ingest=(); for i in 1 2; do p=$(free_port); ingest+=("$p"); MNEMO_ADDR=127.0.0.1:$p start "ingest-$i" "$dir/bin/mnemo-ingest"; done
for i in 1 2; do MNEMO_REAPER_ID=r$i MNEMO_REAPER_ADDR= start "reaper-$i" "$dir/bin/mnemo-reaper"; done
query=$(free_port); MNEMO_ADDR=127.0.0.1:$query start query "$dir/bin/mnemo-query"

cat >"$dir/env" <<ENV
MNEMO_NATS_URL=$nats_url
MNEMO_REDIS_URL=redis://127.0.0.1:$redis_port/0
MNEMO_STORE=$MNEMO_STORE
INGEST_URLS=http://127.0.0.1:${ingest[0]},http://127.0.0.1:${ingest[1]}
QUERY_URL=http://127.0.0.1:$query
ENV
for _ in $(seq 1 60); do
  if curl -sf "http://127.0.0.1:${ingest[0]}/readyz" >/dev/null && curl -sf "http://127.0.0.1:$query/readyz" >/dev/null; then
    echo "cluster: up in $dir"; cat "$dir/env"
    echo "cluster: try  go run ./cmd/mnemo bench load -url http://127.0.0.1:${ingest[0]} -events 2000"
    exit 0
  fi
  sleep 0.5
done
echo "cluster: not ready after 30 s; logs in $dir/logs"; exit 1
