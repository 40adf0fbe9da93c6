#!/usr/bin/env bash
# Installs what the tests need, builds the project three ways and runs every
# test tier, then prints one summary line: "N passed, N failed[, N skipped]".
#
#   build/       the normal build: unit, integration and interop tiers
#   build-asan/  ASan+UBSan build: the same tiers again
#   build-fuzz/  clang + libFuzzer: each fuzz target for a bounded time
#
# Exits non-zero if anything failed. Options: --quick (normal build only),
# --no-install (skip the package check).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)

quick=0
install=1
for a in "$@"; do
    case $a in
    --quick) quick=1 ;;
    --no-install) install=0 ;;
    *) echo "usage: $0 [--quick] [--no-install]" >&2; exit 2 ;;
    esac
done

if ((install)); then
    scripts/install-deps.sh || { echo "installing dependencies failed" >&2; exit 1; }
fi

export LV_TEST_TMP=${LV_TEST_TMP:-/tmp/lv-tests}
# Sanitizer reports end the offending process, so a test sees it fail.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

setup() { # DIR ARGS...
    local dir=$1
    shift
    if [[ -f $dir/build.ninja ]]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

status=0
builds=(build)
setup build || exit 1
if ((!quick)); then
    setup build-asan -Db_sanitize=address,undefined -Db_lundef=false || exit 1
    CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbuildtype=debugoptimized || exit 1
    builds+=(build-asan build-fuzz)
fi
for b in "${builds[@]}"; do
    rm -f "$b"/meson-logs/testlog-*.json
    echo "=== building $b"
    ninja -C "$b" >"$b/ninja.out" 2>&1 || { cat "$b/ninja.out"; echo "build of $b failed" >&2; exit 1; }
done

run_suite() { # BUILD SUITE...
    local b=$1
    shift
    local args=()
    for s in "$@"; do args+=(--suite "$s"); done
    echo "=== testing $b (${*})"
    meson test -C "$b" --print-errorlogs --no-rebuild "${args[@]}" || status=1
    cp "$b/meson-logs/testlog.json" "$b/meson-logs/testlog-$(IFS=-; echo "$*").json" 2>/dev/null
}

run_suite build unit integration interop
if ((!quick)); then
    run_suite build-asan unit integration interop
    run_suite build-fuzz fuzz
fi

# One line summing every tier of every build, from meson's JSON logs.
/usr/bin/python3 - "${builds[@]}" <<'PY'
import glob, json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for b in sys.argv[1:]:
    for path in glob.glob(f"{b}/meson-logs/testlog-*.json"):
        with open(path) as f:
            for line in f:
                r = json.loads(line).get("result")
                if r == "OK" or r == "EXPECTEDFAIL":
                    counts["passed"] += 1
                elif r == "SKIP":
                    counts["skipped"] += 1
                else:
                    counts["failed"] += 1
line = f"{counts['passed']} passed, {counts['failed']} failed"
if counts["skipped"]:
    line += f", {counts['skipped']} skipped"
print(line)
sys.exit(1 if counts["failed"] else 0)
PY
sum_status=$?
((status == 0 && sum_status == 0)) || exit 1
exit 0
