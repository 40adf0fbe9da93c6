# shellcheck shell=bash
# Helpers for Libervia test scripts (bash). Source this file:
#     . "$(dirname "$0")/../lib/common.sh"
# It does not change shell options (-e/-u/pipefail stay as the caller set them).
# It does install an EXIT trap (and INT/TERM/HUP traps that exit) running the
# cleanups registered with cleanup_push; don't override the EXIT trap after
# sourcing (register more work with cleanup_push instead). Bash runs the
# INT/TERM trap only once the current foreground command ends: in a test, wait
# for long things with `sleep N & wait $!` or bounded polls (wait_for).
#
#   lv_tmpdir NAME          -> prints ${LV_TEST_TMP:-/tmp/lv-tests}/NAME, removed and
#                              recreated empty (NAME: letters, digits, . _ - / only)
#   wait_port HOST PORT [TIMEOUT=10]
#                           -> 0 once a TCP connect to HOST:PORT succeeds (polls
#                              every 0.05 s), 1 after TIMEOUT seconds (fractions ok)
#   wait_for CMD [ARGS...]  -> runs CMD until it succeeds (every 0.1 s, or
#                              LV_WAIT_INTERVAL); gives up after ${LV_WAIT:-10} s, rc 1
#   fail MSG...             -> prints "FAIL: MSG" on stderr, exits 1 (cleanups run)
#   pass MSG...             -> prints "PASS: MSG" on stdout
#   log_tail FILE [N=40]    -> prints the last N lines of FILE framed, on stderr
#   cleanup_push CMD [ARGS...]
#                           -> registers a cleanup; run in reverse order on exit.
#                              One argument = a shell string (eval'd); several
#                              arguments = an argv, quoted exactly.
#   cleanup_run             -> runs (and forgets) the registered cleanups now.

if [[ -z ${_LV_COMMON_SH:-} ]]; then
    _LV_COMMON_SH=1
    _LV_CLEANUPS=()

    lv_tmpdir() {
        local name=${1:?usage: lv_tmpdir NAME}
        if [[ ! $name =~ ^[A-Za-z0-9._/-]+$ || $name == *..* || $name == /* ]]; then
            echo "lv_tmpdir: refusing odd name '$name'" >&2
            return 1
        fi
        local root=${LV_TEST_TMP:-/tmp/lv-tests}
        local dir=$root/$name
        rm -rf -- "$dir" && mkdir -p -- "$dir" || return 1
        printf '%s\n' "$dir"
    }

    # _lv_now_ms: milliseconds since the epoch (bash 5 EPOCHREALTIME).
    _lv_now_ms() {
        local t=${EPOCHREALTIME/[.,]/}
        printf '%s\n' "$((t / 1000))"
    }

    # _lv_secs_to_ms 2.5 -> 2500
    _lv_secs_to_ms() {
        local s=$1 int frac
        int=${s%%.*}
        [[ $s == *.* ]] && frac=${s#*.} || frac=
        frac=${frac}000
        frac=${frac:0:3}
        printf '%s\n' "$((10#${int:-0} * 1000 + 10#$frac))"
    }

    # lv_port_open HOST PORT: one connect attempt (no output).
    lv_port_open() {
        local host=$1 port=$2
        (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
    }

    wait_port() {
        local host=${1:?usage: wait_port HOST PORT [TIMEOUT]} port=${2:?usage: wait_port HOST PORT [TIMEOUT]}
        local timeout=${3:-10} deadline
        deadline=$(($(_lv_now_ms) + $(_lv_secs_to_ms "$timeout")))
        while :; do
            lv_port_open "$host" "$port" && return 0
            (($(_lv_now_ms) >= deadline)) && return 1
            sleep 0.05
        done
    }

    wait_for() {
        (($#)) || {
            echo "usage: wait_for CMD [ARGS...]" >&2
            return 2
        }
        local deadline
        deadline=$(($(_lv_now_ms) + $(_lv_secs_to_ms "${LV_WAIT:-10}")))
        while :; do
            "$@" && return 0
            (($(_lv_now_ms) >= deadline)) && return 1
            sleep "${LV_WAIT_INTERVAL:-0.1}"
        done
    }

    fail() {
        printf 'FAIL: %s\n' "$*" >&2
        exit 1
    }

    pass() {
        printf 'PASS: %s\n' "$*"
    }

    log_tail() {
        local file=${1:?usage: log_tail FILE [N]} n=${2:-40}
        {
            printf -- '----- last %s lines of %s -----\n' "$n" "$file"
            if [[ -r $file ]]; then tail -n "$n" -- "$file"; else echo "(missing)"; fi
            printf -- '----- end of %s -----\n' "$file"
        } >&2
    }

    cleanup_push() {
        (($#)) || return 0
        if (($# == 1)); then
            _LV_CLEANUPS+=("$1")
        else
            local q
            printf -v q '%q ' "$@"
            _LV_CLEANUPS+=("$q")
        fi
    }

    cleanup_run() {
        local i
        for ((i = ${#_LV_CLEANUPS[@]} - 1; i >= 0; i--)); do
            # Each cleanup runs in a subshell with errexit off: a failing
            # cleanup must not prevent the others.
            (
                set +e
                eval "${_LV_CLEANUPS[i]}"
            ) || echo "cleanup failed (rc $?): ${_LV_CLEANUPS[i]}" >&2
        done
        _LV_CLEANUPS=()
    }

    _lv_on_exit() {
        local rc=$?
        trap - EXIT
        cleanup_run
        exit "$rc"
    }
    trap _lv_on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
fi
