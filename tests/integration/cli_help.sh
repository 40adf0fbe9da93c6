#!/usr/bin/env bash
# Every li and libervia-backend command has --help with a usage line, the man
# pages are valid roff listing every command, and the bash completion script
# parses and completes command words and options.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
LV_BUILD_DIR=${LV_BUILD_DIR:-$(pwd)/build}
li="$LV_BUILD_DIR/li"

cmds=$("$li" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z -]*[a-z]\)  .*/\1/p' | sed 's/ *$//')
n=0
while read -r c; do
    [[ -n $c ]] || continue
    # shellcheck disable=SC2086
    out=$("$li" $c --help) || fail "li $c --help failed"
    grep -q "^usage: li $c" <<<"$out" || fail "li $c --help: $out"
    n=$((n + 1))
done <<<"$cmds"
((n >= 30)) || fail "only $n commands listed"
for group in blog pubsub "pubsub node" profile param; do
    # shellcheck disable=SC2086
    "$li" $group --help | grep -q "Subcommands:" || fail "li $group --help"
done
set +e
"$li" blog nonsense >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || fail "unknown subcommand: rc $rc"
pass "li: $n commands, each with --help; groups list their subcommands; unknown command exits 2"

for c in fg bg stop status "profile create" "param set" config-doc; do
    "$LV_BUILD_DIR/libervia-backend" help "$c" | grep -q "^usage: libervia-backend" ||
        fail "libervia-backend help $c"
done
pass "libervia-backend help for each command"

for page in li.1 libervia-backend.1; do
    [[ -s $LV_BUILD_DIR/$page ]] || fail "$page not built"
    grep -q '^\.TH ' "$LV_BUILD_DIR/$page" || fail "$page has no .TH"
done
grep -q 'li blog set' "$LV_BUILD_DIR/li.1" || fail "li.1 lacks blog set"
if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww "$LV_BUILD_DIR/li.1" >/dev/null 2>"$LV_BUILD_DIR/groff.err" || fail "groff"
    [[ ! -s $LV_BUILD_DIR/groff.err ]] || fail "groff warnings: $(head -3 "$LV_BUILD_DIR/groff.err")"
fi
pass "man pages built from the command tables"

comp="$LV_BUILD_DIR/li.bash-completion"
bash -n "$comp" || fail "completion script does not parse"
words=$(bash -c '
    . "$1"
    export PATH="$(dirname "$2"):$PATH"
    COMP_WORDS=(li blog se); COMP_CWORD=2; _li_complete; echo "${COMPREPLY[*]}"
    COMP_WORDS=(li blog set --ti); COMP_CWORD=3; _li_complete; echo "${COMPREPLY[*]}"
    COMP_WORDS=(li pub); COMP_CWORD=1; _li_complete; echo "${COMPREPLY[*]}"
' _ "$comp" "$li")
[[ $(sed -n 1p <<<"$words") == set ]] || fail "completion of 'li blog se': $words"
[[ $(sed -n 2p <<<"$words") == --title ]] || fail "completion of --ti: $words"
[[ $(sed -n 3p <<<"$words") == pubsub ]] || fail "completion of 'li pub': $words"
pass "bash completion completes commands and options"
