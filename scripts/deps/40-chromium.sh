#!/usr/bin/env bash
# Chromium for the viewer's browser tests (chromedp drives it headless):
# $MNEMO_CHROMIUM when set, else Debian's chromium, installed from apt when
# missing. Prints the browser's path.
set -euo pipefail
. "$(dirname "$0")/apt.sh"
step=40-chromium

if [ -n "${MNEMO_CHROMIUM:-}" ]; then
	if [ -x "$MNEMO_CHROMIUM" ]; then
		echo "$MNEMO_CHROMIUM"
		exit 0
	fi
	echo "$step: MNEMO_CHROMIUM=$MNEMO_CHROMIUM is not an executable file" >&2
	exit 1
fi
if ! command -v chromium >/dev/null 2>&1; then
	deps_apt_install "$step" chromium chromium
fi
command -v chromium
