#!/usr/bin/env bash
# Runs dmm-nrd's message-decoder fuzzer for a bounded time; fails (non-zero) on any crash, leak, timeout or OOM.
#   tests/fuzz/run_nrd_fuzz.sh BUILD_DIR SECONDS
# BUILD_DIR is the clang fuzz build run_fuzz.sh configures (configured here too if it is not yet). Seeds:
# tests/fuzz/nrd-seeds/ (one frame stream or one body per message type; the first byte picks the mode, see
# nrd_message_fuzz.cpp). New corpus entries go to BUILD_DIR/nrd-fuzz-corpus, crashes to BUILD_DIR/fuzz-artifacts/.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$1
seconds=$2
src=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDMM_FUZZ=ON -DDMM_SCENARIO_ONLY=ON -DDMM_BUILD_BENCH=OFF \
    -DPYBIND11_FINDPYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3 >/dev/null
fi
cmake --build "$build" --target dmm_nrd_message_fuzz -j2 >/dev/null

corpus="$build/nrd-fuzz-corpus"
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"

# -timeout: one input taking 5 s is a hang; -max_len: a few frames (the decoder's own limits are tested in unit tests).
exec "$build/bin/dmm_nrd_message_fuzz" "$corpus" "$src/tests/fuzz/nrd-seeds" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 -max_len=16384 \
  -dict="$src/tests/fuzz/nrd.dict" -artifact_prefix="$artifacts/nrd-" -print_final_stats=1
