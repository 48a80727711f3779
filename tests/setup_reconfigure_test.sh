#!/bin/sh
# setup.sh configures the build on every run. That must not touch the generated ns-3 header fixes (issue 12: they
# were rewritten each time, and every file of sim/ that force-includes them recompiled on every setup.sh).
# Usage: setup_reconfigure_test.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$2
fixes="$build/ns3-cxx20-fix/singleton.h $build/ns3-cxx20-fix/simulation-singleton.h"
before=$(stat -c '%n %Y.%y' $fixes)
sleep 1.1  # timestamps have a resolution of a second on some filesystems
cmake -S "$src" -B "$build" >/dev/null
after=$(stat -c '%n %Y.%y' $fixes)
if [ "$before" != "$after" ]; then
  echo "reconfiguring rewrote the ns-3 header fixes:"
  echo "before: $before"
  echo "after:  $after"
  exit 1
fi
echo "ok: header fixes untouched by a reconfigure"
