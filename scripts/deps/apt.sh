# Sourced by the scripts/deps/NN-*.sh steps: installs Debian packages as root
# or through passwordless sudo. Anywhere else it prints the one command the
# user must run and fails, so a missing dependency never passes silently.

# deps_privileged CMD...: runs CMD as root (directly, or with sudo -n); fails
# when neither is possible.
deps_privileged() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		return 1
	fi
}

# deps_can_be_root: true when deps_privileged can run a command.
deps_can_be_root() {
	[ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

# deps_apt_install STEP WHAT PKG...: says in one line that WHAT is missing
# and installs PKG... with apt-get, or what to run instead. The package
# lists are refreshed first when one of them has no candidate (a fresh
# machine), and once more when the install fails on stale lists.
deps_apt_install() {
	local step="$1" what="$2"
	shift 2
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "$step: $what missing and no apt-get here: install $* with this system's package manager, then run again" >&2
		return 1
	fi
	if ! deps_can_be_root; then
		echo "$step: $what missing, and not root nor passwordless sudo: run  sudo apt-get update && sudo apt-get install -y $*" >&2
		return 1
	fi
	echo "$step: $what missing: installing from apt: $*" >&2
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Use-Pty=0)
	local pkg need_update=0
	for pkg in "$@"; do
		if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then
			need_update=1
		fi
	done
	if [ "$need_update" = 1 ]; then
		deps_privileged "${apt[@]}" update </dev/null >&2
	fi
	if ! deps_privileged "${apt[@]}" install "$@" </dev/null >/dev/null; then
		echo "$step: apt-get install $* failed: refreshing the package lists and trying once more" >&2
		deps_privileged "${apt[@]}" update </dev/null >&2
		deps_privileged "${apt[@]}" install "$@" </dev/null >/dev/null
	fi
}
