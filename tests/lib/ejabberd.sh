# shellcheck shell=bash
# Private ejabberd 23.01 instances for tests, on 127.0.0.1 only. Source this
# file (bash); it does not change shell options.
#
#   ejabberd_start DIR [C2S_PORT=5232] [COMP_PORT=5357] [DIST_PORT=C2S_PORT+20000]
#       Writes DIR/ejabberd.yml and DIR/ejabberdctl.cfg, makes certificates in
#       DIR/certs (copied from $LV_CERTS_DIR when that holds them, so all servers
#       of a test share one CA), chowns DIR to the ejabberd user, starts the node
#       (spool DIR/db, logs DIR/logs, Erlang node lvejabberd_<C2S_PORT>@localhost),
#       waits until `ejabberdctl status` says started and both ports answer
#       (30 s max), registers louise/louise-pw, pierre/pierre-pw, admin/admin-pw,
#       tester/tester-pw on example.test. Returns 1 (with the log tail) on failure.
#       Domains: example.test (c2s; STARTTLS optional; SCRAM-SHA-1/256/512 and
#       PLAIN offered with or without TLS, -PLUS variants with TLS; PEP via the
#       mod_pubsub "pep" plugin), pubsub.example.test (mod_pubsub:
#       max_items_node 10000, any local user may create nodes/publish, RSM works),
#       gw.example.test / files.example.test (ejabberd_service, secrets
#       "gw-secret" / "files-secret"). Admin: admin@example.test.
#       CA for clients: DIR/certs/ca.crt.
#       No epmd: the node's Erlang distribution listens on 127.0.0.1:DIST_PORT
#       (ERL_DIST_PORT) and ejabberdctl talks to it there; nothing is left
#       behind by stop.
#       Env: LV_EJABBERD_LOG_LEVEL (default info), LV_EJABBERD_TIMEOUT (30).
#   ejabberd_stop DIR        `ejabberdctl stop`, wait up to 10 s, then SIGTERM
#                            (5 s), then SIGKILL the node (by pid). Idempotent.
#   ejabberd_restart DIR     stop, then start again with the same config and data.
#   ejabberd_register DIR USER PASSWORD   (on example.test; node must run)
#   ejabberd_ctl DIR ARGS... run ejabberdctl for this instance (as user ejabberd)
#   ejabberd_pid DIR         prints the beam pid if the node runs (rc 1 otherwise)

_LV_EJABBERD_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/certs.sh
. "$_LV_EJABBERD_LIBDIR/certs.sh"

_ejabberd_say() { printf 'ejabberd: %s\n' "$*" >&2; }

_ejabberd_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_ejabberd_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

_ejabberd_var() { # DIR NAME: value from DIR/ejabberd.ports (empty if none)
    sed -n "s/^$2=//p" "$1/ejabberd.ports" 2>/dev/null || true
}

ejabberd_ctl() {
    local dir=${1:?usage: ejabberd_ctl DIR ARGS...}
    shift
    dir=$(cd "$dir" && pwd) || return 1
    # ejabberdctl cds into the spool dir and runs erl there: run it as the
    # ejabberd user with HOME=DIR (Erlang cookie DIR/.erlang.cookie).
    # Bounded: a wedged Erlang client must not hang a test.
    timeout -k 5 "${LV_EJABBERD_CTL_TIMEOUT:-60}" \
        runuser -u ejabberd -- env HOME="$dir" \
        ejabberdctl --ctl-config "$dir/ejabberdctl.cfg" \
        --spool "$dir/db" --logs "$dir/logs" "$@"
}

ejabberd_pid() {
    local dir=${1:?usage: ejabberd_pid DIR} node pid
    node=$(_ejabberd_var "$dir" NODE)
    [[ -n $node ]] || return 1
    # The node writes DIR/ejabberd.pid (EJABBERD_PID_PATH) once started; before
    # that, look for the beam process whose command line has "-sname NODE" (the
    # ejabberdctl clients use other node names).
    local -a pids=()
    if [[ -r $dir/ejabberd.pid ]]; then
        pid=$(tr -dc '0-9' <"$dir/ejabberd.pid")
        [[ -n $pid ]] && pids+=("$pid")
    fi
    # shellcheck disable=SC2207
    pids+=($(pgrep -u ejabberd -f "beam.* -sname $node " 2>/dev/null || true))
    for pid in "${pids[@]}"; do
        _ejabberd_alive "$pid" || continue
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- " -sname $node "; then
            printf '%s\n' "$pid"
            return 0
        fi
    done
    return 1
}

ejabberd_register() {
    local dir=${1:?usage: ejabberd_register DIR USER PASSWORD}
    local user=${2:?usage: ejabberd_register DIR USER PASSWORD}
    local pw=${3?usage: ejabberd_register DIR USER PASSWORD}
    local out
    if ! out=$(ejabberd_ctl "$dir" register "$user" example.test "$pw" 2>&1); then
        # Re-registering an existing user sets its password (change_password
        # needs mod_admin_extra: unregister + register instead; its data goes).
        if [[ $out == *"already registered"* ]] &&
            ejabberd_ctl "$dir" unregister "$user" example.test >/dev/null 2>&1 &&
            out=$(ejabberd_ctl "$dir" register "$user" example.test "$pw" 2>&1); then
            return 0
        fi
        _ejabberd_say "registering $user@example.test failed: $out"
        return 1
    fi
}

_ejabberd_write_config() {
    local dir=$1 c2s=$2 comp=$3 dist=$4 node=$5
    local level=${LV_EJABBERD_LOG_LEVEL:-info}
    cat >"$dir/ejabberd.yml" <<EOF
# Generated by tests/lib/ejabberd.sh: private test instance, loopback only.
hosts:
  - example.test

loglevel: $level
log_rotate_count: 0
hide_sensitive_log_data: false

certfiles:
  - "$dir/certs/server.crt"
  - "$dir/certs/server.key"
ca_file: "$dir/certs/ca.crt"

default_db: mnesia
auth_method: internal
# No s2s at all: no listener, and outgoing s2s denied.
s2s_access: none

listen:
  -
    port: $c2s
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    max_stanza_size: 1048576
    shaper: none
    access: c2s
    starttls: true
    starttls_required: false
  -
    port: $comp
    ip: "127.0.0.1"
    module: ejabberd_service
    backlog: 128
    access: all
    shaper: none
    hosts:
      gw.example.test:
        password: "gw-secret"
      files.example.test:
        password: "files-secret"

acl:
  admin:
    user:
      - "admin@example.test"
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8

access_rules:
  local:
    allow: local
  c2s:
    allow: all
  announce:
    allow: admin
  configure:
    allow: admin
  pubsub_createnode:
    allow: all

api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"

shaper_rules:
  max_user_sessions: 100
  max_user_offline_messages: 5000

modules:
  mod_adhoc: {}
  mod_caps: {}
  mod_disco: {}
  mod_last: {}
  mod_offline: {}
  mod_ping: {}
  mod_private: {}
  mod_pubsub:
    hosts:
      - "pubsub.example.test"
    access_createnode: pubsub_createnode
    last_item_cache: false
    max_items_node: 10000
    plugins:
      - flat
      - pep
  mod_roster: {}
  mod_stream_mgmt: {}
  mod_time: {}
  mod_vcard: {}
  mod_version:
    show_os: false
EOF
    cat >"$dir/ejabberdctl.cfg" <<EOF
# Generated by tests/lib/ejabberd.sh
EJABBERD_CONFIG_PATH="$dir/ejabberd.yml"
ERLANG_NODE="$node"
# Erlang distribution on a fixed loopback port: no epmd is started or needed.
ERL_DIST_PORT=$dist
ERL_EPMD_ADDRESS=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {127,0,0,1}"
EJABBERD_PID_PATH="$dir/ejabberd.pid"
CONTRIB_MODULES_PATH="$dir/contrib"
CONTRIB_MODULES_CONF_DIR="$dir/contrib/conf"
EJABBERD_BYPASS_WARNINGS=true
EOF
    printf 'C2S_PORT=%s\nCOMP_PORT=%s\nDIST_PORT=%s\nNODE=%s\n' \
        "$c2s" "$comp" "$dist" "$node" >"$dir/ejabberd.ports"
}

_ejabberd_diag() {
    local dir=$1 f
    for f in "$dir/ejabberd.out" "$dir/logs/ejabberd.log" "$dir/logs/error.log" "$dir/logs/crash.log"; do
        [[ -s $f ]] || continue
        printf -- '----- last 40 lines of %s -----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
}

# _ejabberd_launch DIR: start with the existing config, wait until started.
_ejabberd_launch() {
    local dir=$1 c2s comp dist
    c2s=$(_ejabberd_var "$dir" C2S_PORT)
    comp=$(_ejabberd_var "$dir" COMP_PORT)
    dist=$(_ejabberd_var "$dir" DIST_PORT)
    if [[ -z $c2s || -z $comp || -z $dist ]]; then
        _ejabberd_say "no $dir/ejabberd.ports: use ejabberd_start first"
        return 1
    fi
    if ejabberd_pid "$dir" >/dev/null; then
        _ejabberd_say "already running in $dir (pid $(ejabberd_pid "$dir"))"
        return 1
    fi
    local p
    for p in "$c2s" "$comp" "$dist"; do
        if _ejabberd_port_open "$p"; then
            _ejabberd_say "port 127.0.0.1:$p is already in use"
            return 1
        fi
    done
    mkdir -p "$dir/db" "$dir/logs" "$dir/contrib/conf" || return 1
    chown -R ejabberd: "$dir" || return 1
    if ! runuser -u ejabberd -- test -w "$dir/db" -a -r "$dir/certs/server.key"; then
        _ejabberd_say "user ejabberd cannot use $dir (a parent directory not searchable?)"
        return 1
    fi

    if ! ejabberd_ctl "$dir" start </dev/null >>"$dir/ejabberd.out" 2>&1; then
        _ejabberd_say "ejabberdctl start failed"
        _ejabberd_diag "$dir"
        return 1
    fi
    local timeout=${LV_EJABBERD_TIMEOUT:-30} start=$SECONDS out=
    # Cheap wait first: the listeners open at the end of the start-up.
    while ! { _ejabberd_port_open "$c2s" && _ejabberd_port_open "$comp"; }; do
        if ((SECONDS - start >= timeout)); then
            _ejabberd_say "ports $c2s/$comp not open after ${timeout} s"
            _ejabberd_diag "$dir"
            ejabberd_stop "$dir"
            return 1
        fi
        if ((SECONDS - start >= 3)) && ! ejabberd_pid "$dir" >/dev/null; then
            _ejabberd_say "the node exited during start-up"
            _ejabberd_diag "$dir"
            return 1
        fi
        sleep 0.05
    done
    # Then the authoritative check: `status` exits 0 and says "started" once
    # the ejabberd application has started (3: node unreachable, 1: starting).
    while ! { out=$(ejabberd_ctl "$dir" status 2>&1) && [[ $out == *"is started"* ]]; }; do
        if ((SECONDS - start >= timeout)); then
            _ejabberd_say "not started after ${timeout} s (last status: ${out//$'\n'/ })"
            _ejabberd_diag "$dir"
            ejabberd_stop "$dir"
            return 1
        fi
        sleep 0.2
    done
}

ejabberd_start() {
    local dir=${1:?usage: ejabberd_start DIR [C2S_PORT] [COMP_PORT] [DIST_PORT]}
    local c2s=${2:-5232} comp=${3:-5357}
    local dist=${4:-$((c2s + 20000))}
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    if [[ $dir == *[[:space:]\"\'\\\$]* ]]; then
        _ejabberd_say "directory name must not contain spaces, quotes, \\ or \$: $dir"
        return 1
    fi
    if ejabberd_pid "$dir" >/dev/null; then
        _ejabberd_say "already running in $dir"
        return 1
    fi
    mkdir -p "$dir/certs" || return 1
    if [[ -n ${LV_CERTS_DIR:-} && -s $LV_CERTS_DIR/server.crt && ! -s $dir/certs/server.crt ]]; then
        cp -f "$LV_CERTS_DIR/ca.crt" "$LV_CERTS_DIR/server.key" "$LV_CERTS_DIR/server.crt" "$dir/certs/" || return 1
    fi
    lv_make_certs "$dir/certs" || return 1
    local node="lvejabberd_${c2s}@localhost" old
    old=$(_ejabberd_var "$dir" NODE)
    if [[ -n $old && $old != "$node" && -d $dir/db ]]; then
        # The Mnesia schema is bound to the node name (derived from C2S_PORT).
        _ejabberd_say "node name changed ($old -> $node): discarding $dir/db"
        rm -rf "$dir/db"
    fi
    _ejabberd_write_config "$dir" "$c2s" "$comp" "$dist" "$node" || return 1
    _ejabberd_launch "$dir" || return 1
    local u
    for u in louise pierre admin tester; do
        ejabberd_register "$dir" "$u" "$u-pw" || return 1
    done
}

ejabberd_stop() {
    local dir=${1:?usage: ejabberd_stop DIR} pid i sig
    [[ -r $dir/ejabberd.ports ]] || return 0
    pid=$(ejabberd_pid "$dir") || return 0
    LV_EJABBERD_CTL_TIMEOUT=15 ejabberd_ctl "$dir" stop >>"$dir/ejabberd.out" 2>&1 || true
    for ((i = 0; i < 100; i++)); do # 10 s
        _ejabberd_alive "$pid" || return 0
        sleep 0.1
    done
    for sig in TERM KILL; do
        _ejabberd_say "node (pid $pid) still alive: SIG$sig"
        kill -"$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do # 5 s
            _ejabberd_alive "$pid" || return 0
            sleep 0.1
        done
    done
    return 0
}

ejabberd_restart() {
    local dir=${1:?usage: ejabberd_restart DIR}
    dir=$(cd "$dir" && pwd) || return 1
    ejabberd_stop "$dir" && _ejabberd_launch "$dir"
}
