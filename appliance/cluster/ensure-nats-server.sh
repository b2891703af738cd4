#!/bin/sh
# Makes sure the nats-server the embedded cluster will use is present before `npm run bench` /
# `npm test` (run after the build). With Go, `cim servers install` builds the pinned default release
# into the cache (about a minute the first time, reused after); --nats-server / CIM_NATS_SERVER and
# NATS_SERVER_BIN choose another. Without Go it falls back to nats-server on PATH, installing
# Debian's package when running as root with apt-get, and says that the results are for an old
# server. See docs/servers.md.
set -u
cli="node $(dirname "$0")/../../dist/cli/main.js"
$cli servers install >&2
status=$?
[ "$status" -eq 0 ] && exit 0
# 2: a bad choice (an unknown version, a path that is no nats-server): installing would not help.
[ "$status" -eq 3 ] || exit "$status"
if [ -z "${NATS_SERVER_BIN:-}" ] && [ -z "${CIM_NATS_SERVER:-}" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "cim: no Go to build the pinned nats-server, and none on PATH: installing Debian's nats-server package (an old release)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
  $cli servers install >&2 && exit 0
fi
echo "cim: no usable nats-server. Install Go (then \`npx cim servers install\` builds the pinned release)," >&2
echo "cim: or Debian's package:  sudo apt-get update && sudo apt-get install -y nats-server" >&2
echo "cim: (or use 'nix develop', or set NATS_SERVER_BIN to a nats-server binary)" >&2
exit 3
