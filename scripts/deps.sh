#!/usr/bin/env bash
# Installs and starts what the README's commands need on a Debian or Ubuntu
# machine that has only Go, so a fresh clone runs as written:
#   deps.sh run   what `go tool task run` needs: redis-server
#   deps.sh test  what `go tool task test` needs: redis-server, PostgreSQL,
#                 the Claude Code CLI, Chromium
# Each need is one step, scripts/deps/NN-*.sh, also runnable alone. A step
# that installs or starts something says so in one line first; one that
# cannot (not root, no sudo, no apt) prints the command to run and fails.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/deps"

case "${1:-}" in
run) steps=(10-redis.sh) ;;
test) steps=(10-redis.sh 20-postgresql.sh 30-claude-code.sh 40-chromium.sh) ;;
*)
	echo "usage: $0 run|test" >&2
	exit 2
	;;
esac

for s in "${steps[@]}"; do
	if ! out=$(bash "$dir/$s"); then
		echo "deps: ${s%.sh} failed (scripts/deps/$s): the message above says what to do" >&2
		exit 1
	fi
	echo "deps: ${s%.sh}: ${out##*$'\n'}"
done
