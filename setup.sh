#!/usr/bin/env bash
# One command from a fresh Debian 12 (as root) to a built tree in build/.
# Installs every Debian package the whole project needs, explicitly, then configures and builds (Release, -j2).
# Idempotent: a second run skips packages already present and only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  # toolchain
  build-essential cmake g++ pkg-config git
  # simulation: ns-3 3.37 and what its CMake targets name
  libns3-dev ns3 libgsl-dev libxml2-dev libsqlite3-dev python3-dev
  # user-space stack: DPDK 22.11; lwIP 2.1 is built from its Debian source package (below), which dpkg-dev unpacks
  libdpdk-dev dpdk dpdk-dev dpkg-dev
  # core libraries
  libyaml-cpp-dev libboost-program-options-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # Python bindings and analysis
  pybind11-dev python3-pybind11 python3-matplotlib python3-numpy python3-pandas
  # campaigns: Dask's distributed scheduler (LocalCluster, dask-scheduler, dask-worker) and xarray
  python3-distributed python3-xarray python3-scipy python3-tqdm
  # their tests: pytest, and Jupyter to execute the notebook headless (nbconvert + the python3 kernel)
  python3-pytest jupyter-core jupyter-nbconvert python3-nbconvert python3-nbformat python3-ipykernel
  # real hosts: namespaces, shaping, test peers
  iproute2 ethtool curl iperf3 libpython3.11-testsuite
  # dmm-emu's tests: pgrep (procps) and setpriv (util-linux) to check cleanup and the refusal without root
  procps util-linux
  # real programs the shim's tests run under dmm-run: a reverse proxy with unprivileged workers, a load balancer,
  # and ab (apache2-utils) for connection-per-request rates
  nginx-light haproxy apache2-utils
  # a DNS client that sends with libuv (BIND's dig) and a DNS server for it, over user-space stack instances
  bind9-dnsutils dnsmasq-base
  # a server with its own benchmark, served over user-space stack instances
  redis-server redis-tools
  # an HTTP load generator for the request/response comparison of lwIP and the kernel (dmm-bench apps)
  wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# lwIP 2.1.3 from Debian's source package (the build options of Debian's liblwip are compiled in: see
# backends/dpdk_lwip/lwip_port/lwipopts.h). apt-get source checks the package against the archive's signed index.
# The Debian revision the project was built and measured with; bookworm's archive keeps only its current revision,
# so a later one (a security update of the same upstream 2.1.3) is taken if this one is gone, and said.
LWIP_SOURCE_VERSION=2.1.3+dfsg1-2
LWIP_SOURCE_DIR=third_party/lwip-2.1.3+dfsg1
if [ ! -f "$LWIP_SOURCE_DIR/.dmm-source-version" ]; then
  # (grep without -q: with pipefail, grep -q quitting early could fail apt-cache with SIGPIPE)
  if ! apt-cache showsrc lwip 2>/dev/null | grep '^Version: 2\.1\.3+dfsg1-' >/dev/null; then
    # No deb-src entry for bookworm yet: add one for the archive the machine already uses, signed by the same
    # key as its deb entry when that names one (apt refuses two entries for one archive with different keys).
    # (field names are case-insensitive in deb822; a key given inline rather than as a path is not copied)
    signed_by=$(awk 'BEGIN { RS = "" } { p = tolower($0) }
                     p ~ /uris:[^\n]*deb\.debian\.org\/debian([ \n]|$)/ && match(p, /signed-by:[^\n]*/) {
                       print "Signed-By:" substr($0, RSTART + 10, RLENGTH - 10); exit }' \
                  /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n%s\n' \
      "$signed_by" >/etc/apt/sources.list.d/dmm-lwip-source.sources
    apt-get update
  fi
  wanted="lwip=$LWIP_SOURCE_VERSION"
  if ! apt-cache showsrc lwip 2>/dev/null | grep "^Version: $LWIP_SOURCE_VERSION\$" >/dev/null; then
    wanted=lwip
    echo "setup.sh: lwip $LWIP_SOURCE_VERSION is no longer in the archive; fetching its current bookworm revision" >&2
  fi
  rm -rf "$LWIP_SOURCE_DIR" third_party/lwip_*
  mkdir -p third_party
  (cd third_party && apt-get source --only-source "$wanted")
  if [ ! -f "$LWIP_SOURCE_DIR/src/core/tcp.c" ]; then
    echo "setup.sh: apt-get source lwip did not unpack $LWIP_SOURCE_DIR (a new upstream version?)" >&2
    exit 1
  fi
  (cd third_party && ls lwip_*.dsc) >"$LWIP_SOURCE_DIR/.dmm-source-version"
fi

# pybind11's CMake would otherwise pick a pyenv python3 from PATH (see shared/MACHINE-FACTS.md).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
  -DPYBIND11_FINDPYTHON=ON -DPython_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build -j2
