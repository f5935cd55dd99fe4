#!/bin/sh
# spec/run.sh [BUSTED OPTIONS]: run the specs with Lua 5.4 from the
# repository root.  The last line is "N passed, N failed, N skipped".
cd "$(dirname "$0")/.." || exit 1
if [ ! -x build/wbl ] || [ ! -f build/lib/wbl/core.so ]; then
  echo "spec/run.sh: build first (make)" >&2
  exit 1
fi
exec lua5.4 /usr/bin/busted "$@"
