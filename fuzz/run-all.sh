#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600), JOBS at a time (default 2), seeding each
# corpus from the wire fixtures and fuzz/seeds/ first. Logs go to fuzz/logs/<target>.log;
# crashes to fuzz/artifacts/<target>/. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a
# stable toolchain it runs with RUSTC_BOOTSTRAP=1. See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-600}"
JOBS="${JOBS:-2}"
TARGETS="${TARGETS:-$(cargo fuzz list 2>/dev/null || ls fuzz_targets | sed 's/\.rs$//')}"
export RUSTC_BOOTSTRAP=1
mkdir -p logs
RUSTC_BOOTSTRAP=1 cargo fuzz build >/dev/null
for target in $TARGETS; do
    mkdir -p "corpus/$target"
    case "$target" in
        wire_*) cp -n ../crates/wire/tests/fixtures/*.xml "corpus/$target/" ;;
        *) [ -d "seeds/$target" ] && cp -n "seeds/$target/"* "corpus/$target/" ;;
    esac
done
printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} sh -c \
    "cargo fuzz run {} corpus/{} -- -max_total_time=$SECONDS_PER_TARGET -print_final_stats=1 > logs/{}.log 2>&1; echo \"{}: exit \$?\""
