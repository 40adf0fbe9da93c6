#!/usr/bin/env bash
# Install the Debian 12 packages needed to build and test Libervia in C.
#
# Idempotent and fast on repeated runs:
#   - apt is skipped entirely when every package is already installed;
#   - `apt-get update` only runs when the package lists are missing or older
#     than one day;
#   - after installing, the system-wide Prosody and ejabberd daemons are
#     stopped (the tests run private instances on loopback ports);
#   - the same for the system nginx (ActivityPub tests run a private one);
#   - the Fedify test peer's npm packages (tests/interop/fedify) are installed
#     with `npm ci` from its lock file when they are missing or out of date.
#
# Usage: scripts/install-deps.sh            (as root)
# Env:   LV_DEPS_VERBOSE=1   also print a line when nothing has to be done
set -euo pipefail

PACKAGES=(
    build-essential meson ninja-build pkg-config python3
    clang libclang-rt-14-dev
    libuv1-dev libexpat1-dev libssl-dev libgsasl-dev libsqlite3-dev
    libjansson-dev libutf8proc-dev libcmocka-dev libcmark-dev libgumbo-dev
    libcurl4-openssl-dev
    libmicrohttpd-dev curl
    libpq-dev postgresql-15
    openssl ca-certificates
    prosody ejabberd python3-slixmpp
    procps iproute2 netcat-openbsd
    nginx jq
)

say() { printf 'install-deps: %s\n' "$*"; }

is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
    [[ $status == installed ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

# --- stop system-wide XMPP daemons --------------------------------------------
# Debian starts prosody/ejabberd on install when a service manager lets it.
# They would occupy 5222/5269/5280/5347 and collide with the test instances.

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

stop_pidfile() { # NAME PIDFILE: SIGTERM, wait up to 5 s, SIGKILL
    local name=$1 pidfile=$2 pid i
    [[ -r $pidfile ]] || return 0
    pid=$(tr -dc '0-9' <"$pidfile")
    pid_alive "$pid" || return 0
    say "stopping system $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

stop_system_prosody() {
    local pidfile=/run/prosody/prosody.pid pid
    [[ -r $pidfile ]] || return 0
    pid=$(tr -dc '0-9' <"$pidfile")
    pid_alive "$pid" || return 0
    say "stopping system-wide prosody"
    timeout 20 service prosody stop >/dev/null 2>&1 || true
    stop_pidfile prosody "$pidfile"
}

stop_system_ejabberd() {
    local pidfile=/run/ejabberd/ejabberd.pid pid running=0
    # The system node is ejabberd@localhost (test instances use other names).
    if [[ -r $pidfile ]]; then
        pid=$(tr -dc '0-9' <"$pidfile")
        pid_alive "$pid" && running=1
    fi
    if ((running == 0)) && pgrep -f 'beam.*name ejabberd@localhost ' >/dev/null 2>&1; then
        running=1
    fi
    ((running)) || return 0
    say "stopping system-wide ejabberd"
    timeout 60 service ejabberd stop >/dev/null 2>&1 ||
        timeout 60 ejabberdctl stop >/dev/null 2>&1 || true
    stop_pidfile ejabberd "$pidfile"
    # The system node's epmd (started by the init script) is left alone if
    # another Erlang node still uses it; `epmd -kill` refuses otherwise.
    if command -v epmd >/dev/null 2>&1 && ! epmd -names 2>/dev/null | grep -q '^name '; then
        epmd -kill >/dev/null 2>&1 || true
    fi
}

# --- system nginx and the Fedify test peer (ActivityPub tests) -----------------
# The AP tests run a private nginx on 127.0.18.x:443 (tests/lib/apnet.sh); the
# Debian package's service would hold port 80 (and 443 if configured).
stop_system_nginx() {
    local pidfile=/run/nginx.pid pid
    [[ -r $pidfile ]] || return 0
    pid=$(tr -dc '0-9' <"$pidfile")
    pid_alive "$pid" || return 0
    say "stopping system-wide nginx"
    timeout 20 service nginx stop >/dev/null 2>&1 || true
    stop_pidfile nginx "$pidfile"
}

# npm ci in tests/interop/fedify when node_modules is missing or older than
# the lock file (quiet; needs node and npm, which the machine image has).
install_fedify_peer() {
    local peer
    peer=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/interop/fedify" 2>/dev/null && pwd) || return 0
    [[ -f $peer/package-lock.json ]] || return 0
    if [[ -d $peer/node_modules/@fedify/fedify && -f $peer/node_modules/.package-lock.json &&
        ! $peer/package-lock.json -nt $peer/node_modules/.package-lock.json ]]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        say "npm not found: cannot install the Fedify test peer (tests/interop/fedify)" >&2
        return 1
    fi
    say "npm ci in tests/interop/fedify"
    (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >/dev/null) || {
        say "npm ci failed in $peer" >&2
        return 1
    }
}

if ((${#missing[@]} == 0)); then
    [[ ${LV_DEPS_VERBOSE:-0} == 1 ]] && say "all ${#PACKAGES[@]} packages already installed"
    stop_system_prosody
    stop_system_ejabberd
    stop_system_nginx
    install_fedify_peer
    exit 0
fi

if ((EUID != 0)); then
    say "must run as root to install: ${missing[*]}" >&2
    exit 1
fi

say "missing packages: ${missing[*]}"

# apt-get update only if the lists are missing or older than a day.
lists=/var/lib/apt/lists
if ! find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit 2>/dev/null | grep -q .; then
    say "package lists missing or older than 1 day: apt-get update"
    apt-get update -q
else
    say "package lists are fresh: skipping apt-get update"
fi

export DEBIAN_FRONTEND=noninteractive
say "apt-get install ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}"

stop_system_prosody
stop_system_ejabberd
stop_system_nginx
install_fedify_peer

still=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still+=("$pkg")
done
if ((${#still[@]})); then
    say "still not installed: ${still[*]}" >&2
    exit 1
fi
say "done"
