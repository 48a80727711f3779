#!/usr/bin/env bash
# Runs the scenario-loader fuzzer for a bounded time; fails (non-zero) on any crash, leak, timeout or OOM.
#   tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS
# BUILD_DIR is configured with clang on first use. Seeds: scenarios/, tests/bad-scenarios/ and tests/fuzz/seeds/
# (the latter start with `%set KEY=VALUE` lines, which the target turns into --set overrides).
# New corpus entries stay in BUILD_DIR/fuzz-corpus (the seed directories are never written to); a crashing
# input is written to BUILD_DIR/fuzz-artifacts/.
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
cmake --build "$build" --target dmm_scenario_loader_fuzz -j2 >/dev/null

corpus="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
seeds=()
for dir in "$src/scenarios" "$src/tests/bad-scenarios" "$src/tests/fuzz/seeds"; do
  [ -d "$dir" ] && seeds+=("$dir")
done

# -timeout: one input taking 5 s is a hang; -rss_limit_mb: the loader's own limits keep it far below this.
exec "$build/bin/dmm_scenario_loader_fuzz" "$corpus" "${seeds[@]}" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 -max_len=65536 \
  -dict="$src/tests/fuzz/scenario.dict" -artifact_prefix="$artifacts/" -print_final_stats=1
