#!/usr/bin/env bash
# cluster:down - stop what cluster:up started and drop its database.
set -euo pipefail
dir=${MNEMO_CLUSTER_DIR:-$(cat /tmp/mnemo-cluster.current 2>/dev/null || true)}
[ -n "$dir" ] && [ -d "$dir" ] || { echo "cluster: nothing to stop"; exit 0; }
for f in "$dir"/*.pid; do
  [ -e "$f" ] || continue
  kill "$(cat "$f")" 2>/dev/null || true
done
sleep 2
for f in "$dir"/*.pid; do [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; done
if [ -f "$dir/pgdb" ]; then psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $(cat "$dir/pgdb") WITH (FORCE)" || true; fi
echo "cluster: stopped (logs kept in $dir/logs)"
rm -f /tmp/mnemo-cluster.current
