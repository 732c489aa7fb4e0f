#!/usr/bin/env bash
# prime-pool across "hosts": DistributedPool workers in network namespaces of their own,
# reaching a RabbitMQ broker in the root namespace over virtual links (issue 17).
#
#   sudo bash Samples/PrimePool/cross-host.sh        (from the repo root, or from anywhere)
#
# Needs root (it creates network namespaces and veth pairs), iproute2 (`ip`), coreutils'
# `timeout`, python3 and Debian's rabbitmq-server. It:
#   1. builds prime-pool (release) unless PRIME_POOL names a binary;
#   2. creates NAMESPACES network namespaces (weave-xh-<pid>-<n>), each joined to the root
#      namespace by a veth pair with a private /30 (10.201.X.4n/30: root side .4n+1,
#      namespace side .4n+2), and nothing else: no forwarding, no NAT, no default route;
#   3. starts a throwaway RabbitMQ (own epmd, node name and data in a temporary directory)
#      listening on loopback and on the root side of every veth, on a free port;
#   4. starts WORKERS prime-pool workers in each namespace (`ip netns exec`), connected to
#      the broker at the root side's address, so their only way to it is the veth link;
#   5. runs the caller in the root namespace with --remote-workers (no local workers, no
#      local counting: every range crosses a namespace boundary), bounded by TIMEOUT
#      seconds, prints which worker in which namespace served how many ranges, and checks
#      that every range was counted in a worker's namespace and none in the caller's;
#   6. on exit, Ctrl-C or failure: kills what it started (by pid), deletes its namespaces
#      and veths and removes its temporary directory.
# Knobs (environment): NAMESPACES=2, WORKERS=2 (per namespace), LIMIT=2000000, TASKS=48,
# TIMEOUT=120, PRIME_POOL (a prime-pool binary to use instead of building).
set -euo pipefail

NAMESPACES=${NAMESPACES:-2}
WORKERS=${WORKERS:-2}
LIMIT=${LIMIT:-2000000}
TASKS=${TASKS:-48}
TIMEOUT=${TIMEOUT:-120}
RABBITMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
RABBITMQCTL=/usr/lib/rabbitmq/bin/rabbitmqctl
say() { echo "[cross-host] $*" >&2; }
fail() { say "$*"; exit 1; }

# What it needs, before it touches anything.
if [[ $EUID != 0 ]]; then
  fail "needs root: it creates network namespaces and veth pairs (run it with sudo)"
fi
command -v ip >/dev/null || fail "needs the ip command (apt-get install iproute2)"
ip netns list >/dev/null 2>&1 || fail "'ip netns' does not work here (a kernel with network namespaces, iproute2)"
command -v timeout >/dev/null || fail "needs timeout (apt-get install coreutils)"
command -v python3 >/dev/null || fail "needs python3 (to find free ports and probe the broker)"
[[ -x $RABBITMQ_SERVER ]] || fail "$RABBITMQ_SERVER not found (apt-get install rabbitmq-server)"
command -v epmd >/dev/null || fail "epmd not found (apt-get install rabbitmq-server)"
[[ $NAMESPACES =~ ^[1-9][0-9]*$ && $NAMESPACES -le 60 ]] || fail "NAMESPACES must be 1 to 60, not '$NAMESPACES'"
for knob in WORKERS LIMIT TASKS TIMEOUT; do
  [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || fail "$knob must be a positive number, not '${!knob}'"
done

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [[ -z ${PRIME_POOL:-} ]]; then
  command -v swift >/dev/null || fail "needs swift to build prime-pool (or PRIME_POOL=<a prime-pool binary>)"
  say "swift build -c release --product prime-pool"
  (cd "$ROOT" && swift build -c release --product prime-pool >&2)
  PRIME_POOL="$(cd "$ROOT" && swift build -c release --show-bin-path)/prime-pool"
fi
[[ -x $PRIME_POOL ]] || fail "$PRIME_POOL is not an executable"

# Everything this run creates, so that cleanup removes exactly that and nothing else.
DIR=$(mktemp -d /tmp/weave-cross-host-XXXXXX)
CREATED_NAMESPACES=()
CREATED_LINKS=()
PIDS=()          # workers, the caller; killed first
BROKER=""
EPMD=""
stop_pid() {  # pid seconds: TERM, then KILL once the seconds are up
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq $(( $2 * 10 ))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  local status=$?
  trap - EXIT
  trap '' INT TERM HUP   # a second Ctrl-C does not cut the cleanup short
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $BROKER ]]; then
    # The server script stops its node on SIGTERM, but not one still booting: its node
    # (the script's child) is stopped by pid too once the script is gone.
    local node_pids
    node_pids=$(ps -o pid= --ppid "$BROKER" 2>/dev/null || true)
    stop_pid "$BROKER" 30
    wait "$BROKER" 2>/dev/null || true
    for pid in $node_pids; do stop_pid "$pid" 10; done
  fi
  if [[ -n $EPMD ]]; then kill -TERM "$EPMD" 2>/dev/null || true; wait "$EPMD" 2>/dev/null || true; fi
  # Deleting one end of a veth pair deletes both; a namespace's end also goes with it.
  for link in "${CREATED_LINKS[@]}"; do ip link delete "$link" 2>/dev/null || true; done
  for ns in "${CREATED_NAMESPACES[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$DIR"
  say "cleaned up: ${#CREATED_NAMESPACES[@]} namespaces, ${#CREATED_LINKS[@]} veth pairs, $DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM HUP

# A 10.201.X.0/24 no address or route here uses yet; each namespace gets a /30 of it.
# (grep reads all: with pipefail, an early exit of grep -q could fail the pipeline.)
in_use() { ip -4 -o addr show | grep " 10\.201\.$1\." >/dev/null || ip -4 route show | grep "^10\.201\.$1\." >/dev/null; }
OCTET=""
for try in $(seq 0 249); do
  candidate=$(( ($$ + try) % 250 + 1 ))
  in_use "$candidate" || { OCTET=$candidate; break; }
done
[[ -n $OCTET ]] || fail "no free 10.201.X.0/24 for the virtual links"
root_address() { echo "10.201.$OCTET.$(( 4 * $1 + 1 ))"; }
namespace_address() { echo "10.201.$OCTET.$(( 4 * $1 + 2 ))"; }

NAMES=()
for n in $(seq 0 $(( NAMESPACES - 1 ))); do
  ns="weave-xh-$$-$n"
  outer="wx$$r$n"   # interface names: at most 15 characters
  inner="wx$$n$n"
  ip netns add "$ns"
  CREATED_NAMESPACES+=("$ns")
  ip link add "$outer" type veth peer name "$inner"
  CREATED_LINKS+=("$outer")
  ip link set "$inner" netns "$ns"
  ip address add "$(root_address "$n")/30" dev "$outer"
  ip link set "$outer" up
  ip -n "$ns" address add "$(namespace_address "$n")/30" dev "$inner"
  ip -n "$ns" link set "$inner" up
  ip -n "$ns" link set lo up
  NAMES+=("$ns")
done

# The broker: its own epmd, node, data and config under DIR, listening on loopback and on
# the root side of each veth, on a port free now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port); DIST=$(free_port); EPMD_PORT=$(free_port)
{
  echo "listeners.tcp.1 = 127.0.0.1:$PORT"
  for n in $(seq 0 $(( NAMESPACES - 1 ))); do echo "listeners.tcp.$(( n + 2 )) = $(root_address "$n"):$PORT"; done
  echo "loopback_users = none"   # guest may log in from the namespaces
  echo "disk_free_limit.absolute = 1MB"
} >"$DIR/rabbitmq.conf"
echo '[].' >"$DIR/enabled_plugins"
NODE="weave-cross-host-$$@localhost"
BROKER_ENV=(
  HOME="$DIR" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$PORT" RABBITMQ_DIST_PORT="$DIST"
  RABBITMQ_NODENAME="$NODE" RABBITMQ_MNESIA_BASE="$DIR/mnesia" RABBITMQ_LOG_BASE="$DIR/log"
  RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
  RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
)
# Our own epmd in the foreground (one the broker started would daemonize), listening first.
(cd "$DIR" && exec epmd -port "$EPMD_PORT" -address 127.0.0.1) >"$DIR/epmd.log" 2>&1 &
EPMD=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$EPMD_PORT") 2>/dev/null && break; sleep 0.1; done
# exec: BROKER is the server script's own pid, which stops the node on SIGTERM.
(cd "$DIR" && exec env "${BROKER_ENV[@]}" "$RABBITMQ_SERVER") >"$DIR/broker.log" 2>&1 &
BROKER=$!
say "starting RabbitMQ (pid $BROKER, port $PORT)"
ready=""
for _ in $(seq 900); do
  if python3 - "$PORT" <<'PY' 2>/dev/null; then ready=1; break; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"AMQP\x00\x00\x09\x01")
sys.exit(0 if s.recv(1) == b"\x01" else 1)
PY
  kill -0 "$BROKER" 2>/dev/null || break
  sleep 0.1
done
[[ -n $ready ]] || fail "the broker did not start: $(tail -c 1500 "$DIR/broker.log")"

# Workers: WORKERS processes per namespace, each reaching the broker only over its veth.
QUEUE="prime-pool-cross-host-$$"
declare -A NAMESPACE_INODE
for n in "${!NAMES[@]}"; do
  ns=${NAMES[$n]}
  url="amqp://guest:guest@$(root_address "$n"):$PORT/"
  NAMESPACE_INODE[$ns]=$(ip netns exec "$ns" readlink /proc/self/ns/net)
  # The link works before any worker depends on it.
  ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$(root_address "$n")/$PORT" \
    || fail "$ns cannot reach the broker at $(root_address "$n"):$PORT"
  for w in $(seq 1 "$WORKERS"); do
    ip netns exec "$ns" env WEAVE_BROKER_URL="$url" WEAVE_BROKER_QUEUE="$QUEUE" \
      PRIME_POOL_WORKER_NAME="$ns/w$w" "$PRIME_POOL" </dev/null >"$DIR/worker-$ns-$w.log" 2>&1 &
    PIDS+=($!)
  done
done
ROOT_INODE=$(readlink /proc/self/ns/net)

echo
printf '  %-22s  %-18s  %-15s  %-15s  %7s\n' "namespace" "network namespace" "root side" "namespace side" "workers"
printf '  %-22s  %-18s  %-15s  %-15s  %7s\n' "----------------------" "------------------" "---------------" "---------------" "-------"
printf '  %-22s  %-18s  %-15s  %-15s  %7s\n' "(root: broker, caller)" "$ROOT_INODE" "127.0.0.1:$PORT" "" "0"
for n in "${!NAMES[@]}"; do
  ns=${NAMES[$n]}
  printf '  %-22s  %-18s  %-15s  %-15s  %7s\n' "$ns" "${NAMESPACE_INODE[$ns]}" "$(root_address "$n")/30" "$(namespace_address "$n")/30" "$WORKERS"
done
echo

# Wait until every worker consumes, so that the ranges spread over all of them.
expected=$(( NAMESPACES * WORKERS ))
consumers=0
for _ in $(seq 300); do
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || fail "a worker exited early: $(tail -n 5 "$DIR"/worker-*.log)"
  done
  consumers=$(env "${BROKER_ENV[@]}" "$RABBITMQCTL" -n "$NODE" -q list_queues name consumers 2>/dev/null \
    | awk -v q="$QUEUE" '$1 == q { print $2 }') || true
  [[ ${consumers:-0} -ge $expected ]] && break
  sleep 0.2
done
say "$consumers of $expected workers consuming queue '$QUEUE'"

# The caller, in the root namespace, with no workers of its own.
OUTPUT=$DIR/caller.out
timeout -k 5 "$TIMEOUT" "$PRIME_POOL" --limit "$LIMIT" --tasks "$TASKS" \
  --broker "amqp://guest:guest@127.0.0.1:$PORT/" --remote-workers --queue "$QUEUE" \
  </dev/null > >(tee "$OUTPUT") 2>&1 &
CALLER=$!
PIDS+=("$CALLER")
status=0
wait "$CALLER" || status=$?
sleep 0.1   # tee's last line
[[ $status == 0 ]] || fail "the caller failed (status $status$([[ $status == 124 ]] && echo ", timed out after ${TIMEOUT}s"))"

# Every range was counted in a worker's own namespace, none in the caller's.
echo
served=0
for ns in "${NAMES[@]}"; do
  rows=$(grep -E "^  $ns/w[0-9]+ " "$OUTPUT" || true)
  [[ -n $rows ]] || { say "check: no range was counted in $ns"; continue; }
  while read -r worker inode ranges _; do
    [[ $inode == "${NAMESPACE_INODE[$ns]}" ]] || fail "check: $worker reported $inode, not $ns's ${NAMESPACE_INODE[$ns]}"
    served=$(( served + ranges ))
  done <<<"$rows"
done
grep -q "(the caller's)" "$OUTPUT" && fail "check: some ranges were counted in the caller's network namespace"
total=$(awk '$1 == "total" { print $2 }' "$OUTPUT")
[[ $served == "$total" ]] || fail "check: the namespaces' workers counted $served ranges, not all $total"
say "check: all $total ranges were counted in the workers' namespaces, none in the caller's ($ROOT_INODE)"
