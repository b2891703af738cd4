#!/bin/sh
# Makes sure a nats-server the appliance can use is present before `npm run bench` / `npm test`.
# Installs Debian's package when running as root with apt-get; otherwise stops with the exact
# command to run. NATS_SERVER_BIN, when set, is used as it is.
set -eu
min="2.9.4"
bin="${NATS_SERVER_BIN:-$(command -v nats-server || true)}"

version_ok() {
  v=$("$1" --version 2>/dev/null | sed -n 's/.*v\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$min" "$v" | sort -V | head -n 1)" = "$min" ]
}

if [ -n "$bin" ] && [ -x "$bin" ] && version_ok "$bin"; then
  exit 0
fi
if [ -n "${NATS_SERVER_BIN:-}" ]; then
  echo "cim: NATS_SERVER_BIN=$NATS_SERVER_BIN is not a nats-server >= $min" >&2
  exit 3
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "cim: nats-server >= $min is missing; installing Debian's nats-server package" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
  bin=$(command -v nats-server || true)
  if [ -n "$bin" ] && version_ok "$bin"; then exit 0; fi
fi
echo "cim: nats-server >= $min is required but was not found (or is too old)." >&2
echo "cim: install it with:  sudo apt-get update && sudo apt-get install -y nats-server" >&2
echo "cim: (or use 'nix develop', or set NATS_SERVER_BIN to a nats-server binary)" >&2
exit 3
