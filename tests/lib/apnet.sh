# shellcheck shell=bash
# Local HTTPS "internet" for ActivityPub federation tests, on loopback only.
# Source after common.sh (bash); it does not change shell options. Needs root
# (it binds 127.0.18.x:443 and edits /etc/hosts).
#
#   apnet_available
#       0 when node, npm and nginx are installed and the Fedify peer's
#       node_modules exist (scripts/install-deps.sh sets all of that up).
#
#   apnet_start DIR NAME=PORT [NAME=PORT...]
#       Makes DIR/ca.crt + DIR/ca.key (test CA, RSA 2048) and DIR/server.crt +
#       DIR/server.key (leaf with SANs for every NAME, localhost and the IPs,
#       EKU serverAuth); kept across calls while the names stay the same.
#       Gives each NAME an address 127.0.18.N (N from 2, in argument order),
#       writes them in a marked block of /etc/hosts ("# BEGIN libervia-apnet" ..
#       "# END libervia-apnet", rewritten in place, with a "# owner DIR PID"
#       line: while another live instance owns the block, apnet_start waits
#       for it, up to APNET_WAIT s, default 120), and starts a private nginx
#       (DIR/nginx/nginx.conf; pid, temp dirs and logs under DIR/nginx) with one
#       server per NAME: `listen 127.0.18.N:443 ssl`, proxy_pass to
#       http://127.0.0.1:PORT with Host $host, X-Forwarded-Proto https,
#       X-Forwarded-Host $host, X-Forwarded-For. Access log (with $host):
#       DIR/nginx/access.log; errors: DIR/nginx/error.log. Waits (10 s max)
#       until https://NAME answers for every NAME (any HTTP status: the
#       backends may start later). Exports APNET_DIR and APNET_CA=DIR/ca.crt.
#       Registers `apnet_stop DIR` with cleanup_push.
#       Env: APNET_SYSTEM_CA=1 also installs the CA in the system store
#       (update-ca-certificates; removed again by apnet_stop), for programs
#       that take no CA file. APNET_HOSTS_FILE (default /etc/hosts).
#   apnet_stop DIR
#       Stops that nginx (SIGTERM, then SIGKILL after 5 s) and removes the
#       /etc/hosts block if DIR owns it (and the system CA if apnet_start
#       installed it).
#       Idempotent.
#   apnet_ip NAME           prints the 127.0.18.N address given to NAME
#   apnet_curl ARGS...      curl trusting the test CA (curl --cacert $APNET_CA)
#
#   fedify_start DIR NAME PORT CTLPORT [PEER ARGS...]
#       Starts tests/interop/fedify/peer.mjs for https://NAME (actor
#       alice@NAME unless PEER ARGS has --user USER) on 127.0.0.1:PORT, with its
#       control API on 127.0.0.1:CTLPORT, data in DIR/data (kept by
#       fedify_stop, so a restart keeps keys, followers, posts and inbox),
#       output in DIR/fedify.log, pid in DIR/fedify.pid; NODE_EXTRA_CA_CERTS
#       is $APNET_CA. Waits (20 s max) for GET /health. Sets FEDIFY_CTL_PORT
#       (the default port of fedify_ctl) to CTLPORT. Registers
#       `fedify_stop DIR` with cleanup_push.
#       PEER ARGS: --user U, --name N, --page-size N (outbox page size, 10),
#       --first-knock rfc9421|draft-cavage-http-signatures-12, --log-level L.
#   fedify_stop DIR         SIGTERM, up to 5 s, then SIGKILL. Idempotent.
#   fedify_pid DIR          prints the pid if that peer runs (rc 1 otherwise)
#   fedify_ctl [-p CTLPORT | -d DIR] METHOD PATH [JSON]
#       One call to a peer's control API (default port $FEDIFY_CTL_PORT, i.e.
#       the peer started last; -d DIR: the peer started in DIR). Prints the
#       JSON answer; rc != 0 on an HTTP error (the answer, {"error": "..."},
#       is still printed) or when the peer does not answer.
#       Examples: fedify_ctl POST /follow '{"handle":"louise@gw.ap.test"}'
#                 fedify_ctl -d "$dir/b" GET /inbox
#   The control API: see tests/interop/fedify/README.md.

_APNET_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
APNET_PEER_DIR=$(cd "$_APNET_LIBDIR/../interop/fedify" && pwd)
_APNET_MARK_BEGIN="# BEGIN libervia-apnet"
_APNET_MARK_END="# END libervia-apnet"
_APNET_SYSTEM_CA_FILE=/usr/local/share/ca-certificates/libervia-apnet-test-ca.crt

_apnet_say() { printf 'apnet: %s\n' "$*" >&2; }

_apnet_nginx_bin() {
    local b
    for b in "$(command -v nginx 2>/dev/null)" /usr/sbin/nginx; do
        [[ -n $b && -x $b ]] && {
            printf '%s\n' "$b"
            return 0
        }
    done
    return 1
}

_apnet_alive() { # PID: running and not a zombie
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# _apnet_cmdline_has PID STRING: /proc/PID/cmdline (spaces for NULs) contains STRING
_apnet_cmdline_has() {
    _apnet_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# _apnet_kill PID NAME: SIGTERM, up to 5 s, then SIGKILL (its children too)
_apnet_kill() {
    local pid=$1 name=$2 i kids
    kids=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ' || true)
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        _apnet_alive "$pid" || break
        sleep 0.05
    done
    if _apnet_alive "$pid"; then
        _apnet_say "$name (pid $pid) still alive after 5 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local k
    for k in $kids; do
        _apnet_alive "$k" && kill -KILL "$k" 2>/dev/null
    done
    for ((i = 0; i < 40; i++)); do
        _apnet_alive "$pid" || return 0
        sleep 0.05
    done
}

apnet_available() {
    command -v node >/dev/null 2>&1 &&
        command -v npm >/dev/null 2>&1 &&
        _apnet_nginx_bin >/dev/null &&
        command -v openssl >/dev/null 2>&1 &&
        command -v curl >/dev/null 2>&1 &&
        [[ -d $APNET_PEER_DIR/node_modules/@fedify/fedify ]]
}

# _apnet_certs DIR NAME...: CA + leaf for the names (kept while the names match)
_apnet_certs() {
    local dir=$1
    shift
    local names="$*" days=${LV_CERTS_DAYS:-3650}
    if [[ -s $dir/ca.crt && -s $dir/ca.key && -s $dir/server.crt && -s $dir/server.key &&
        $(cat "$dir/cert-names" 2>/dev/null) == "$names" ]]; then
        return 0
    fi
    local tmp san="DNS:localhost, IP:127.0.0.1" n i=2
    tmp=$(mktemp -d "$dir/.mk.XXXXXX") || return 1
    for n in "$@"; do
        san+=", DNS:$n, IP:127.0.18.$i"
        i=$((i + 1))
    done
    cat >"$tmp/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = Libervia tests
CN = AP interop test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    cat >"$tmp/leaf.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
O = Libervia tests
CN = $1
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
    if ! {
        openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days "$days" \
            -config "$tmp/ca.cnf" -keyout "$tmp/ca.key" -out "$tmp/ca.crt" &&
            openssl req -new -newkey rsa:2048 -nodes -sha256 \
                -config "$tmp/leaf.cnf" -keyout "$tmp/server.key" -out "$tmp/server.csr" &&
            openssl x509 -req -sha256 -days "$days" -in "$tmp/server.csr" \
                -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
                -extfile "$tmp/leaf.cnf" -extensions v3_leaf -out "$tmp/server.crt" &&
            openssl verify -CAfile "$tmp/ca.crt" -purpose sslserver "$tmp/server.crt"
    } >"$tmp/openssl.log" 2>&1; then
        _apnet_say "openssl failed:"
        cat "$tmp/openssl.log" >&2
        rm -rf "$tmp"
        return 1
    fi
    chmod 644 "$tmp/ca.crt" "$tmp/server.crt"
    chmod 600 "$tmp/ca.key" "$tmp/server.key"
    mv -f "$tmp/ca.key" "$tmp/ca.crt" "$tmp/server.key" "$tmp/server.crt" "$dir/" &&
        printf '%s\n' "$names" >"$dir/cert-names"
    local rc=$?
    rm -rf "$tmp"
    return "$rc"
}

# _apnet_hosts_write [LINES]: replace the marked block (none if LINES is empty)
_apnet_hosts_write() {
    local lines=${1:-} hosts=${APNET_HOSTS_FILE:-/etc/hosts} tmp
    tmp=$(mktemp) || return 1
    awk -v b="$_APNET_MARK_BEGIN" -v e="$_APNET_MARK_END" '
        $0 == b { skip = 1; next }
        $0 == e { skip = 0; next }
        !skip { print }' "$hosts" >"$tmp" 2>/dev/null || : >"$tmp"
    if [[ -n $lines ]]; then
        # keep a final newline on the last line before the block
        [[ -s $tmp && $(tail -c1 "$tmp" | od -An -c | tr -d ' ') != '\n' ]] && echo >>"$tmp"
        printf '%s\n%s%s\n' "$_APNET_MARK_BEGIN" "$lines" "$_APNET_MARK_END" >>"$tmp"
    fi
    # Rewrite in place: /etc/hosts may be a bind mount (no rename over it).
    if ! cmp -s "$tmp" "$hosts"; then
        cat "$tmp" >"$hosts" || {
            rm -f "$tmp"
            return 1
        }
    fi
    rm -f "$tmp"
}

# _apnet_hosts_owner: prints "DIR PID" of the instance owning the block, if any
_apnet_hosts_owner() {
    awk -v b="$_APNET_MARK_BEGIN" -v e="$_APNET_MARK_END" '
        $0 == b { inb = 1; next }
        $0 == e { inb = 0; next }
        inb && $1 == "#" && $2 == "owner" { print $3, $4; exit }' "${APNET_HOSTS_FILE:-/etc/hosts}" 2>/dev/null
}

# _apnet_owner_alive DIR PID: that instance's test shell or its nginx still runs
_apnet_owner_alive() {
    local odir=$1 opid=$2 npid
    [[ -n $opid ]] && _apnet_alive "$opid" && return 0
    [[ -r $odir/nginx/nginx.pid ]] || return 1
    npid=$(tr -dc '0-9' <"$odir/nginx/nginx.pid")
    [[ -n $npid ]] && _apnet_cmdline_has "$npid" "$odir/nginx/nginx.conf"
}

# _apnet_claim DIR LINES: write the block for DIR once no other live instance
# owns it (one machine, one set of 127.0.18.x addresses and ports). Waits up to
# APNET_WAIT seconds (default 120) for another instance to stop.
_apnet_claim() {
    local dir=$1 lines=$2 lock=/run/lock/libervia-apnet.lock owner rc
    local deadline=$((SECONDS + ${APNET_WAIT:-120})) said=0
    mkdir -p /run/lock 2>/dev/null || lock=${TMPDIR:-/tmp}/libervia-apnet.lock
    while :; do
        # The check and the write under a lock: two starts at once cannot both win.
        owner=$(
            exec 9>>"$lock"
            flock -w 10 9 || exit 2
            read -r odir opid < <(_apnet_hosts_owner) || true
            if [[ -n ${odir:-} && $odir != "$dir" && ${opid:-} == "$$" ]]; then
                printf '%s (this shell: apnet_stop it first)\n' "$odir"
                exit 3
            fi
            if [[ -n ${odir:-} && $odir != "$dir" ]] && _apnet_owner_alive "$odir" "${opid:-}"; then
                printf '%s (pid %s)\n' "$odir" "${opid:-?}"
                exit 1
            fi
            _apnet_hosts_write "# owner $dir $$"$'\n'"$lines" || exit 2
        ) && rc=0 || rc=$?
        case $rc in
        0) return 0 ;;
        3)
            _apnet_say "another apnet instance runs: $owner"
            return 1
            ;;
        2)
            _apnet_say "cannot write ${APNET_HOSTS_FILE:-/etc/hosts}"
            return 1
            ;;
        esac
        if ((SECONDS >= deadline)); then
            _apnet_say "another apnet instance still runs after ${APNET_WAIT:-120} s: $owner (apnet_stop it)"
            return 1
        fi
        ((said)) || _apnet_say "waiting for another apnet instance to stop: $owner"
        said=1
        sleep 0.5
    done
}

# _apnet_release DIR: remove the block if DIR owns it (or nobody does)
_apnet_release() {
    local dir=$1 lock=/run/lock/libervia-apnet.lock
    [[ -d /run/lock ]] || lock=${TMPDIR:-/tmp}/libervia-apnet.lock
    (
        exec 9>>"$lock"
        flock -w 10 9 || true
        read -r odir _ < <(_apnet_hosts_owner) || true
        if [[ -z ${odir:-} || $odir == "$dir" ]]; then
            _apnet_hosts_write ""
        fi
    )
}

apnet_ip() {
    local name=${1:?usage: apnet_ip NAME} dir=${APNET_DIR:-}
    [[ -n $dir && -r $dir/names ]] || return 1
    awk -v n="$name" '$1 == n { print $2; found = 1 } END { exit !found }' "$dir/names"
}

apnet_curl() {
    curl --cacert "${APNET_CA:?apnet_start first}" "$@"
}

apnet_start() {
    local dir=${1:?usage: apnet_start DIR NAME=PORT...}
    shift
    (($#)) || {
        _apnet_say "usage: apnet_start DIR NAME=PORT..."
        return 1
    }
    if ((EUID != 0)); then
        _apnet_say "needs root (binds 127.0.18.x:443, edits /etc/hosts)"
        return 1
    fi
    local nginx
    nginx=$(_apnet_nginx_bin) || {
        _apnet_say "nginx not found (scripts/install-deps.sh installs it)"
        return 1
    }
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    if [[ -r $dir/nginx/nginx.pid ]] && _apnet_cmdline_has "$(tr -dc '0-9' <"$dir/nginx/nginx.pid")" "$dir/nginx/nginx.conf"; then
        _apnet_say "nginx already runs for $dir"
        return 1
    fi

    local -a names=() ports=()
    local arg name port i
    for arg in "$@"; do
        name=${arg%%=*}
        port=${arg#*=}
        if [[ $arg != *=* || ! $name =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ || ! $port =~ ^[0-9]+$ ]]; then
            _apnet_say "bad NAME=PORT: '$arg'"
            return 1
        fi
        names+=("$name")
        ports+=("$port")
    done
    if ((${#names[@]} > 250)); then
        _apnet_say "too many names"
        return 1
    fi

    _apnet_certs "$dir" "${names[@]}" || return 1

    local hosts_lines="" map=""
    for ((i = 0; i < ${#names[@]}; i++)); do
        hosts_lines+="127.0.18.$((i + 2)) ${names[i]}"$'\n'
        map+="${names[i]} 127.0.18.$((i + 2)) ${ports[i]}"$'\n'
    done
    printf '%s' "$map" >"$dir/names"

    local ng=$dir/nginx
    mkdir -p "$ng/logs" "$ng/tmp/body" "$ng/tmp/proxy" "$ng/tmp/fastcgi" "$ng/tmp/uwsgi" "$ng/tmp/scgi" || return 1
    {
        cat <<EOF
# Generated by tests/lib/apnet.sh: private nginx for AP federation tests (loopback only).
user root;
worker_processes 1;
daemon on;
pid $ng/nginx.pid;
error_log $ng/error.log notice;
events { worker_connections 512; }
http {
    log_format apnet '\$time_iso8601 \$remote_addr \$host "\$request" \$status \$body_bytes_sent '
                     '\${request_time}s upstream=\$upstream_status "\$http_user_agent"';
    access_log $ng/access.log apnet;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    client_max_body_size 50m;
    server_tokens off;
    ssl_certificate $dir/server.crt;
    ssl_certificate_key $dir/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    proxy_http_version 1.1;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_connect_timeout 5s;
    proxy_read_timeout 120s;
    proxy_send_timeout 120s;
EOF
        for ((i = 0; i < ${#names[@]}; i++)); do
            cat <<EOF
    server {
        listen 127.0.18.$((i + 2)):443 ssl;
        server_name ${names[i]};
        location / {
            proxy_pass http://127.0.0.1:${ports[i]};
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header Connection "";
        }
    }
EOF
        done
        echo "}"
    } >"$ng/nginx.conf"

    _apnet_claim "$dir" "$hosts_lines" || return 1
    export APNET_DIR=$dir APNET_CA=$dir/ca.crt
    declare -F cleanup_push >/dev/null && cleanup_push apnet_stop "$dir"

    if [[ ${APNET_SYSTEM_CA:-0} == 1 ]]; then
        : >"$dir/system-ca-installed" # apnet_stop undoes even a partial install
        if ! install -m644 "$dir/ca.crt" "$_APNET_SYSTEM_CA_FILE" ||
            ! update-ca-certificates >/dev/null 2>&1; then
            _apnet_say "installing the CA system-wide failed"
            return 1
        fi
    fi

    rm -f "$ng/nginx.pid"
    if ! "$nginx" -e "$ng/error.log" -p "$ng" -c "$ng/nginx.conf" >>"$ng/start.log" 2>&1; then
        _apnet_say "nginx failed to start"
        log_tail "$ng/start.log" 20
        log_tail "$ng/error.log" 20
        return 1
    fi

    local deadline=$((SECONDS + 10)) ok
    while :; do
        ok=1
        for name in "${names[@]}"; do
            curl -s -o /dev/null --max-time 2 --cacert "$dir/ca.crt" "https://$name/" || {
                ok=0
                break
            }
        done
        ((ok)) && return 0
        if ((SECONDS >= deadline)); then
            _apnet_say "https://$name/ does not answer after 10 s:"
            curl -sS -o /dev/null --max-time 2 --cacert "$dir/ca.crt" "https://$name/" 2>&1 | sed 's/^/  /' >&2
            log_tail "$ng/error.log" 20
            return 1
        fi
        sleep 0.1
    done
}

apnet_stop() {
    local dir=${1:?usage: apnet_stop DIR} pid
    dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
    local ng=$dir/nginx
    if [[ -r $ng/nginx.pid ]]; then
        pid=$(tr -dc '0-9' <"$ng/nginx.pid")
        if [[ -n $pid ]] && _apnet_cmdline_has "$pid" "$ng/nginx.conf"; then
            _apnet_kill "$pid" nginx
        fi
        rm -f "$ng/nginx.pid"
    fi
    _apnet_release "$dir" || _apnet_say "cannot clean ${APNET_HOSTS_FILE:-/etc/hosts}"
    if [[ -e $dir/system-ca-installed ]]; then
        rm -f "$_APNET_SYSTEM_CA_FILE" "$dir/system-ca-installed"
        update-ca-certificates --fresh >/dev/null 2>&1 || true
    fi
    return 0
}

# --- Fedify peer -----------------------------------------------------------------

fedify_pid() {
    local dir=${1:?usage: fedify_pid DIR} pid
    dir=$(cd "$dir" 2>/dev/null && pwd) || return 1
    [[ -r $dir/fedify.pid ]] || return 1
    pid=$(tr -dc '0-9' <"$dir/fedify.pid")
    [[ -n $pid ]] && _apnet_cmdline_has "$pid" "--data $dir/data " || return 1
    printf '%s\n' "$pid"
}

fedify_start() {
    local dir=${1:?usage: fedify_start DIR NAME PORT CTLPORT [ARGS...]}
    local name=${2:?usage: fedify_start DIR NAME PORT CTLPORT [ARGS...]}
    local port=${3:?usage: fedify_start DIR NAME PORT CTLPORT [ARGS...]}
    local ctl=${4:?usage: fedify_start DIR NAME PORT CTLPORT [ARGS...]}
    shift 4
    mkdir -p "$dir/data" && dir=$(cd "$dir" && pwd) || return 1
    if fedify_pid "$dir" >/dev/null; then
        _apnet_say "a Fedify peer already runs in $dir"
        return 1
    fi
    local p
    for p in "$port" "$ctl"; do
        if lv_port_open 127.0.0.1 "$p"; then
            _apnet_say "port 127.0.0.1:$p is already in use"
            return 1
        fi
    done
    [[ -n ${APNET_CA:-} ]] || _apnet_say "warning: APNET_CA is not set (apnet_start first): https lookups will fail"
    printf '%s\n' "$ctl" >"$dir/ctl.port"
    rm -f "$dir/fedify.pid"
    printf -- '----- %s fedify_start %s %s %s %s\n' "$(date -Is)" "$name" "$port" "$ctl" "$*" >>"$dir/fedify.log"
    # Own session, not a child of the test shell; the pid is written before
    # exec, so it is node's pid.
    # shellcheck disable=SC2016 # $$ and $1 are for the inner bash
    NODE_EXTRA_CA_CERTS=${APNET_CA:-} setsid -f bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/fedify.pid" \
        node "$APNET_PEER_DIR/peer.mjs" --domain "$name" --port "$port" --ctl-port "$ctl" \
        --data "$dir/data" "$@" </dev/null >>"$dir/fedify.log" 2>&1
    declare -F cleanup_push >/dev/null && cleanup_push fedify_stop "$dir"
    FEDIFY_CTL_PORT=$ctl

    local deadline=$((SECONDS + 20)) pid=""
    while :; do
        if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$ctl/health"; then
            return 0
        fi
        [[ -z $pid && -r $dir/fedify.pid ]] && pid=$(tr -dc '0-9' <"$dir/fedify.pid")
        if [[ -n $pid ]] && ! _apnet_alive "$pid"; then
            _apnet_say "the Fedify peer for $name exited during start-up"
            log_tail "$dir/fedify.log" 30
            return 1
        fi
        if ((SECONDS >= deadline)); then
            _apnet_say "the Fedify peer for $name is not healthy after 20 s"
            log_tail "$dir/fedify.log" 30
            fedify_stop "$dir"
            return 1
        fi
        sleep 0.1
    done
}

fedify_stop() {
    local dir=${1:?usage: fedify_stop DIR} pid
    dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
    if pid=$(fedify_pid "$dir"); then
        _apnet_kill "$pid" "fedify peer"
    fi
    rm -f "$dir/fedify.pid"
    return 0
}

fedify_ctl() {
    local port=${FEDIFY_CTL_PORT:-}
    while [[ ${1:-} == -p || ${1:-} == -d ]]; do
        case $1 in
        -p) port=${2:?fedify_ctl: -p PORT} ;;
        -d) port=$(cat "${2:?fedify_ctl: -d DIR}/ctl.port" 2>/dev/null) || {
            _apnet_say "fedify_ctl: no peer started in $2"
            return 2
        } ;;
        esac
        shift 2
    done
    local method=${1:?usage: fedify_ctl [-p PORT|-d DIR] METHOD PATH [JSON]}
    local path=${2:?usage: fedify_ctl [-p PORT|-d DIR] METHOD PATH [JSON]}
    [[ -n $port ]] || {
        _apnet_say "fedify_ctl: no control port (fedify_start first, or -p/-d)"
        return 2
    }
    local -a data=()
    (($# >= 3)) && data=(-H 'Content-Type: application/json' --data-binary "$3")
    curl -sS --fail-with-body --max-time 90 -X "$method" "${data[@]}" "http://127.0.0.1:$port$path"
}
