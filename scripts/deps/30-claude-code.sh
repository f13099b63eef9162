#!/usr/bin/env bash
# Installs the real Claude Code CLI the tests run (as the user's agent and as
# Mnemo's claude-code compressor): npm's @anthropic-ai/claude-code at the
# version the fixtures were captured with, into a cache directory outside the
# repository (never committed). Node and npm come from apt when missing.
# Prints the CLI's path on its last line. Safe to run again: an installed CLI
# of the right version is kept.
#
#   MNEMO_CLAUDE_CODE_VERSION  version to install (default 2.1.197)
#   MNEMO_CLAUDE_CODE_DIR      install directory (default ~/.cache/mnemo/claude-code)
set -euo pipefail
. "$(dirname "$0")/apt.sh"

version="${MNEMO_CLAUDE_CODE_VERSION:-2.1.197}"
dir="${MNEMO_CLAUDE_CODE_DIR:-${HOME}/.cache/mnemo/claude-code}"
cli="$dir/node_modules/.bin/claude"

say() { echo "30-claude-code: $*" >&2; }

# Test binaries of several packages may ask at once: one installs, the
# others wait for it.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9

if [ -x "$cli" ] && "$cli" --version 2>/dev/null | grep -q "^${version} "; then
	echo "$cli"
	exit 0
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	deps_apt_install 30-claude-code node/npm nodejs npm
fi

mkdir -p "$dir"
say "installing @anthropic-ai/claude-code@${version} into $dir"
# The package's native binary comes as an optional dependency; its
# postinstall links it over the placeholder bin.
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
	"@anthropic-ai/claude-code@${version}" >&2

pkg="$dir/node_modules/@anthropic-ai/claude-code"
if ! "$cli" --version >/dev/null 2>&1 && [ -f "$pkg/install.cjs" ]; then
	say "running the package's postinstall (npm skipped it)"
	(cd "$pkg" && node install.cjs >&2)
fi
if ! "$cli" --version 2>/dev/null | grep -q "^${version} "; then
	say "installed, but '$cli --version' does not say ${version}: $("$cli" --version 2>&1 | head -1)"
	exit 1
fi
say "ok: $("$cli" --version)"
echo "$cli"
