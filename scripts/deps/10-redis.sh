#!/usr/bin/env bash
# redis-server on PATH: `mnemo run` starts one as its child and the tests
# start their own on free ports; nothing here runs it. Prints its path.
set -euo pipefail
. "$(dirname "$0")/apt.sh"
step=10-redis

if ! command -v redis-server >/dev/null 2>&1; then
	deps_apt_install "$step" redis-server redis-server
fi
command -v redis-server
