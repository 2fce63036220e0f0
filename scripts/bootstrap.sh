# Shared by scripts/demo and scripts/test: make sure .venv exists (installing python3-venv with apt as root).
ensure_venv() {
    if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys' 2>/dev/null; then
        return 0
    fi
    if ! python3 -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv .venv
        else
            echo "python3 cannot create a virtual environment; install it: sudo apt-get install python3-venv" >&2
            exit 2
        fi
    fi
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
}
