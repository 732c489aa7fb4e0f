# Helpers shared by the compare-*.sh scripts; source it (`. "$HERE/lib.sh"`), do not run it.

# make_tls_certificate DIR: a CA (DIR/ca.pem, ca.key) and an ECDSA P-256 server certificate it
# signs for localhost and 127.0.0.1 (DIR/server.pem, server.key), with the openssl command line.
make_tls_certificate() {
  local dir=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -days 2 -subj "/CN=benchmark CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/server.key" \
    -out "$dir/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial 2 -days 2 \
    -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cpu_ticks PID...: user+system clock ticks (CLK_TCK) the processes have used, all threads
# summed; a process that is gone counts 0.
cpu_ticks() {
  local pid total=0 ticks
  for pid in "$@"; do
    ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + ticks))
  done
  echo "$total"
}

# listening_port LOG PID: waits (30 s at most) for a "listening on HOST:PORT" line in LOG and
# prints PORT; prints nothing if process PID ends first or the time runs out.
listening_port() {
  local log=$1 pid=$2 port
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" 2>/dev/null | head -1)
    [[ -n $port ]] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

# stop_pids PID...: SIGTERM to each process this script started, then waits for them.
stop_pids() {
  local pid
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# start_rabbitmq DIR [CONF [PLUGINS]]: a throwaway RabbitMQ broker (Debian's rabbitmq-server)
# with its own epmd, node name, data and config under DIR, on free loopback ports; CONF is
# more rabbitmq.conf lines, PLUGINS a comma-separated list of plugins to enable. Sets
# RABBITMQ_URL (amqp://guest:guest@127.0.0.1:PORT/%2F), RABBITMQ_PORT, RABBITMQ_PID (the
# rabbitmq-server script, whose child is beam.smp) and RABBITMQ_EPMD_PID; returns 1
# (the log's tail on stderr) if it does not answer within 90 s. Stop it with stop_rabbitmq.
# The broker's environment is set only in its own subshell, not in the caller's.
start_rabbitmq() {
  local dir=$1 server=/usr/lib/rabbitmq/bin/rabbitmq-server port dist epmd_port
  [[ -x $server ]] || { echo "$server not found (apt-get install rabbitmq-server)" >&2; return 1; }
  port=$(free_port); dist=$(free_port); epmd_port=$(free_port)
  cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
loopback_users = none
disk_free_limit.absolute = 1MB
${2:-}
CONF
  echo "[${3:-}]." >"$dir/enabled_plugins"
  # Our own epmd in the foreground (one the broker started would daemonize), listening first.
  (cd "$dir" && exec epmd -port "$epmd_port" -address 127.0.0.1) >"$dir/epmd.log" 2>&1 &
  RABBITMQ_EPMD_PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$epmd_port") 2>/dev/null && break; sleep 0.1; done
  (cd "$dir" && export HOME=$dir RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$dist \
     RABBITMQ_NODENAME="weave-bench-$$-$port@localhost" RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log \
     RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins \
     RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1 \
     RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" && exec "$server") >"$dir/broker.log" 2>&1 &
  RABBITMQ_PID=$!
  RABBITMQ_PORT=$port
  RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$port/%2F"
  for _ in $(seq 900); do
    if python3 - "$port" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"AMQP\x00\x00\x09\x01")
sys.exit(0 if s.recv(1) == b"\x01" else 1)
PY
    kill -0 "$RABBITMQ_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "the broker did not start: $(tail -c 1500 "$dir/broker.log")" >&2
  return 1
}

# stop_rabbitmq: stops the broker and the epmd start_rabbitmq started, by pid.
stop_rabbitmq() {
  [[ -n ${RABBITMQ_PID:-} ]] && stop_pids "$RABBITMQ_PID"
  [[ -n ${RABBITMQ_EPMD_PID:-} ]] && stop_pids "$RABBITMQ_EPMD_PID"
  RABBITMQ_PID=""; RABBITMQ_EPMD_PID=""
}

# require_tools NAME TOOL...: exits with "[NAME] TOOL not found" unless every TOOL is on PATH.
require_tools() {
  local name=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "[$name] $tool not found" >&2; exit 1; }
  done
}

# with_scratch_dir: sets DIR (a new temporary directory) and SERVER (empty: the script sets it
# to the pid of the server it runs); on exit that server is stopped and DIR removed.
with_scratch_dir() {
  DIR=$(mktemp -d)
  SERVER=""
  trap 'if [[ -n "$SERVER" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi; rm -rf "$DIR"' EXIT
}
