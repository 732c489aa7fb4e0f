#!/usr/bin/env bash
# Installs from Debian what building and testing Weave needs, when it is missing: libuv (the
# event loop), MariaDB Connector/C (WeaveMySQL), and the servers the client tests start on
# loopback (redis-server, memcached, mariadb-server). Used by `make deps` and `.ci/run`.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
need=()
pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev pkg-config)
pkg-config --exists libmariadb 2>/dev/null || need+=(libmariadb-dev)
{ pkg-config --exists openssl && command -v openssl; } >/dev/null 2>&1 || need+=(libssl-dev openssl)
command -v redis-server >/dev/null || need+=(redis-server)
command -v memcached >/dev/null || need+=(memcached)
{ command -v mariadbd || [ -x /usr/sbin/mariadbd ]; } >/dev/null || need+=(mariadb-server)
[ ${#need[@]} = 0 ] && exit 0
echo "installing ${need[*]}"
# The tests start their own servers; keep the packages' init scripts from starting them now.
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  made_policy=1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
[ -n "$made_policy" ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
