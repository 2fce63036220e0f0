# Sourced by scripts/demo and scripts/test: install missing system packages (as root, via apt) and make .venv.

as_root() { [ "$(id -u)" -eq 0 ]; }

_apt_updated=0
apt_install() {
    if [ "$_apt_updated" -eq 0 ]; then
        apt-get update -q
        _apt_updated=1
    fi
    # policy-rc.d 101: packages must not start the system Dovecot (the tests run their own on private ports).
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" </dev/null
    if [ "$made_policy" -eq 1 ]; then rm -f "$policy"; fi
}

# ensure_packages "purpose" pkg... : install the packages with apt when root, else say how and carry on.
ensure_packages() {
    local purpose=$1
    shift
    [ "$#" -gt 0 ] || return 0
    if as_root && command -v apt-get >/dev/null 2>&1; then
        echo "$(basename "$0"): installing $*" >&2
        apt_install "$@"
    else
        echo "$(basename "$0"): missing $*; install with: sudo apt-get install $*" >&2
        echo "$(basename "$0"): $purpose" >&2
    fi
}

# ensure_venv: a working .venv with an up-to-date pip (installs python3-venv as root when needed).
ensure_venv() {
    if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys' 2>/dev/null; then
        return 0
    fi
    rm -rf .venv
    if ! python3 -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if as_root && command -v apt-get >/dev/null 2>&1; then
            local pyver
            pyver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            apt_install python3-venv "python${pyver}-venv" || apt_install python3-venv
            python3 -m venv .venv
        else
            echo "$(basename "$0"): 'python3 -m venv' failed; install it with: sudo apt-get install python3-venv" >&2
            exit 1
        fi
    fi
    .venv/bin/python -m pip install -q --upgrade pip
}
