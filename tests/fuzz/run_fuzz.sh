#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time; fails (non-zero) on any crash, leak, timeout or OOM.
#   tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS [TARGET]
# TARGET: `scenario` (default; the scenario loader), `nrd` (dmm-nrd's message decoder), `service` (dmm-stackd's)
# or `frames` (the AF_PACKET port's offload finishing and TCP coalescing; seeds in tests/fuzz/frames-seeds/).
# BUILD_DIR is configured with clang on first use. Seeds of `scenario`: scenarios/, tests/bad-scenarios/ and
# tests/fuzz/seeds/ (the latter start with `%set KEY=VALUE` lines, which the target turns into --set overrides);
# of `nrd`: tests/fuzz/nrd-seeds/ (one frame stream or one body per message type; the first byte picks the mode,
# see nrd_message_fuzz.cpp); of `service`: tests/fuzz/service-seeds/ (one datagram each). The seed directories are
# never written to: new corpus entries stay in BUILD_DIR/<target>-fuzz-corpus, a crashing input goes to
# BUILD_DIR/fuzz-artifacts/.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [scenario|nrd|service|frames]" >&2
  exit 2
fi
build=$1
seconds=$2
target=${3:-scenario}
src=$(cd "$(dirname "$0")/../.." && pwd)

seeds=()
case "$target" in
  scenario)
    binary=dmm_scenario_loader_fuzz
    dict="$src/tests/fuzz/scenario.dict"
    max_len=65536  # a scenario is a few KiB
    corpus="$build/fuzz-corpus"  # the name earlier runs used
    for dir in "$src/scenarios" "$src/tests/bad-scenarios" "$src/tests/fuzz/seeds"; do
      [ -d "$dir" ] && seeds+=("$dir")
    done
    ;;
  nrd)
    binary=dmm_nrd_message_fuzz
    dict="$src/tests/fuzz/nrd.dict"
    max_len=16384  # a few frames; the decoder's size limits are unit-tested
    corpus="$build/nrd-fuzz-corpus"
    seeds+=("$src/tests/fuzz/nrd-seeds")
    ;;
  service)
    binary=dmm_service_message_fuzz
    dict="$src/tests/fuzz/service.dict"
    max_len=4096  # one datagram; the decoder refuses anything above kMaxMessage (2 KiB) by its size
    corpus="$build/service-fuzz-corpus"
    seeds+=("$src/tests/fuzz/service-seeds")
    ;;
  frames)
    binary=dmm_frames_fuzz
    dict=""
    max_len=70000  # a virtio_net_hdr and one frame of up to 64 KiB
    corpus="$build/frames-fuzz-corpus"
    seeds+=("$src/tests/fuzz/frames-seeds")
    ;;
  *)
    echo "$0: unknown target '$target' (scenario, nrd, service, frames)" >&2
    exit 2
    ;;
esac

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDMM_FUZZ=ON -DDMM_SCENARIO_ONLY=ON -DDMM_BUILD_BENCH=OFF \
    -DPYBIND11_FINDPYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3 >/dev/null
fi
cmake --build "$build" --target "$binary" -j2 >/dev/null

artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"

# -timeout: one input taking 5 s is a hang; -rss_limit_mb: the code's own limits keep it far below this.
options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 -max_len="$max_len"
  -artifact_prefix="$artifacts/$target-" -print_final_stats=1)
[ -n "$dict" ] && options+=(-dict="$dict")
exec "$build/bin/$binary" "$corpus" "${seeds[@]}" "${options[@]}"
