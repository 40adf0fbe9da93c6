# shellcheck shell=bash
# Private PostgreSQL 15 instances for tests, on 127.0.0.1 only. Source this
# file (bash); it does not change shell options. Needs root (the server runs
# as the postgres user, through runuser) or to run as postgres itself.
#
#   pg_available            -> 0 if PostgreSQL 15 and a way to run it as
#                              postgres are here; 1 with the reason on stderr
#   pg_start DIR [PORT=55432]
#       Makes DIR (owned by postgres), initdb's a cluster in DIR/data (trust
#       authentication, superuser postgres, UTF-8, no fsync), starts it
#       listening on 127.0.0.1:PORT with its socket in DIR, and waits for
#       pg_isready (30 s max). Log in DIR/postgres.log. Sets PG_INITDB_MS and
#       PG_START_MS (start to ready) and prints them on stderr. Returns 1
#       (with the log tail) on failure.
#   pg_stop DIR             fast shutdown, then SIGKILL after 20 s. Idempotent.
#   pg_uri DIR DB           prints postgresql://postgres@127.0.0.1:PORT/DB
#   pg_createdb DIR DB [ARGS...]
#                           creates database DB (ARGS: more createdb options)
#   pg_psql DIR DB ARGS...  runs psql on DB (-X -q -v ON_ERROR_STOP=1 ARGS...)

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

_pg_say() { printf 'postgres: %s\n' "$*" >&2; }

_pg_now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s\n' "$((t / 1000))"
}

# _pg_as_postgres CMD ARGS...: the server refuses to run as root.
_pg_as_postgres() {
    if [[ $(id -un) == postgres ]]; then
        "$@"
    else
        runuser -u postgres -- "$@"
    fi
}

pg_available() {
    if [[ ! -x $PG_BINDIR/postgres ]]; then
        _pg_say "no $PG_BINDIR/postgres (install postgresql-15)"
        return 1
    fi
    if [[ $(id -un) != postgres ]] && ((EUID != 0)); then
        _pg_say "must run as root or as postgres to start a private server"
        return 1
    fi
    id postgres >/dev/null 2>&1 || {
        _pg_say "no postgres user"
        return 1
    }
}

_pg_port() { cat "$1/port" 2>/dev/null; }

_pg_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_pg_log_tail() {
    {
        printf -- '----- last 30 lines of %s -----\n' "$1"
        tail -n 30 -- "$1" 2>/dev/null || echo "(missing)"
        printf -- '----- end -----\n'
    } >&2
}

# _pg_ready DIR: the server accepts connections on its TCP port.
_pg_ready() {
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$(_pg_port "$1")" -U postgres -t 1
}

_pg_initdb() {
    local dir=$1 t0
    t0=$(_pg_now_ms)
    # C.UTF-8 gives Unicode-aware lower()/upper() and full-text parsing
    # without depending on which locales the machine has generated.
    _pg_as_postgres "$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
        _pg_log_tail "$dir/initdb.log"
        return 1
    }
    PG_INITDB_MS=$(($(_pg_now_ms) - t0))
}

_pg_wait_ready() {
    local dir=$1 deadline
    deadline=$(($(_pg_now_ms) + 30000))
    until _pg_ready "$dir"; do
        (($(_pg_now_ms) < deadline)) || return 1
        sleep 0.05
    done
}

pg_start() {
    local dir=${1:?usage: pg_start DIR [PORT]} port=${2:-55432} t0
    if _pg_port_open "$port"; then
        _pg_say "127.0.0.1:$port is already in use"
        return 1
    fi
    mkdir -p -- "$dir" && chown postgres: "$dir" && chmod 0700 "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    _pg_as_postgres test -w "$dir" || {
        _pg_say "postgres cannot reach $dir (a parent directory is not searchable)"
        return 1
    }
    printf '%s\n' "$port" >"$dir/port"
    _pg_initdb "$dir" || return 1
    t0=$(_pg_now_ms)
    _pg_as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -W \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir \
-c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null || {
        _pg_log_tail "$dir/postgres.log"
        return 1
    }
    if ! _pg_wait_ready "$dir"; then
        _pg_say "not ready on 127.0.0.1:$port after 30 s"
        _pg_log_tail "$dir/postgres.log"
        return 1
    fi
    PG_START_MS=$(($(_pg_now_ms) - t0))
    _pg_say "PostgreSQL $("$PG_BINDIR/postgres" -V | awk '{print $3}') on 127.0.0.1:$port:" \
        "initdb ${PG_INITDB_MS} ms, start to ready ${PG_START_MS} ms"
}

# _pg_postmaster DIR: the pid of DIR's server, if it runs (the pid file's
# first line; checked against /proc so that a recycled pid is left alone).
_pg_postmaster() {
    local dir=$1 pid
    [[ -r $dir/data/postmaster.pid ]] || return 1
    pid=$(head -n 1 "$dir/data/postmaster.pid" | tr -dc '0-9')
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/data" || return 1
    printf '%s\n' "$pid"
}

pg_stop() {
    local dir=${1:?usage: pg_stop DIR} pid
    [[ -d $dir ]] || return 0
    dir=$(cd "$dir" && pwd)
    pid=$(_pg_postmaster "$dir") || return 0
    _pg_as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 &&
        return 0
    _pg_say "fast shutdown failed: killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
}

pg_uri() {
    local dir=${1:?usage: pg_uri DIR DB} db=${2:?usage: pg_uri DIR DB}
    printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$(_pg_port "$dir")" "$db"
}

pg_createdb() {
    local dir=${1:?usage: pg_createdb DIR DB [ARGS...]} db=${2:?usage: pg_createdb DIR DB [ARGS...]}
    shift 2
    "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$(_pg_port "$dir")" -U postgres "$@" -- "$db"
}

pg_psql() {
    local dir=${1:?usage: pg_psql DIR DB ARGS...} db=${2:?usage: pg_psql DIR DB ARGS...}
    shift 2
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(_pg_port "$dir")" \
        -U postgres -d "$db" "$@"
}
