#!/usr/bin/env bash
# Start/stop private XMPP servers for demos and benchmarks (loopback only).
#
#   scripts/services.sh prosody-start DIR [C2S_PORT=5222] [COMP_PORT=5347]
#   scripts/services.sh prosody-stop DIR
#   scripts/services.sh prosody-restart DIR
#   scripts/services.sh prosody-register DIR USER PASSWORD
#   scripts/services.sh ejabberd-start DIR [C2S_PORT=5232] [COMP_PORT=5357] [DIST_PORT]
#   scripts/services.sh ejabberd-stop DIR
#   scripts/services.sh ejabberd-restart DIR
#   scripts/services.sh ejabberd-register DIR USER PASSWORD
#   scripts/services.sh certs DIR
#
# The servers keep running after this script exits (stop them with *-stop).
# DIR holds everything (config, data, logs, certs/ca.crt for clients); keep it
# outside the source tree, e.g. /tmp/lv-demo/prosody. Users louise, pierre,
# admin, tester (password USER-pw) exist on example.test; components
# gw.example.test (secret gw-secret), files.example.test (files-secret),
# pubsub.example.test. See tests/lib/prosody.sh and tests/lib/ejabberd.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lib=$here/../tests/lib
# shellcheck source=tests/lib/certs.sh
. "$lib/certs.sh"
# shellcheck source=tests/lib/prosody.sh
. "$lib/prosody.sh"
# shellcheck source=tests/lib/ejabberd.sh
. "$lib/ejabberd.sh"

usage() {
    sed -n '3,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 64
}

(($# >= 2)) || usage
cmd=$1
dir=$2
shift 2
case $dir in
    "" | / | /usr | /usr/* | /etc | /etc/* | /bin | /sbin | /lib* | /var | /boot | /proc* | /sys* | /dev*)
        echo "services.sh: refusing to use '$dir' as a state directory" >&2
        exit 64
        ;;
esac

case $cmd in
    prosody-start)
        prosody_start "$dir" "$@"
        echo "prosody running: $(cd "$dir" && pwd) (pid $(prosody_pid "$dir"))"
        ;;
    prosody-stop) prosody_stop "$dir" ;;
    prosody-restart) prosody_restart "$dir" ;;
    prosody-register) prosody_register "$dir" "$@" ;;
    ejabberd-start)
        ejabberd_start "$dir" "$@"
        echo "ejabberd running: $(cd "$dir" && pwd) (pid $(ejabberd_pid "$dir"))"
        ;;
    ejabberd-stop) ejabberd_stop "$dir" ;;
    ejabberd-restart) ejabberd_restart "$dir" ;;
    ejabberd-register) ejabberd_register "$dir" "$@" ;;
    certs) lv_make_certs "$dir" ;;
    *) usage ;;
esac
