#!/usr/bin/env bash
# MySQL point selects by primary key from many clients: Weave's coroutines (weave-mysql, one
# connection each) beside mysqlslap with the same query and concurrency, and beside PyMySQL
# under gevent (Peers/pymysql_gevent.py, the course's world), on one throwaway MariaDB server
# started here (issue 16).
#
#   bash Benchmarks/compare-mysql.sh          (from the repo root, or from anywhere)
#
# Starts mariadbd on a temporary data directory and a free loopback port, creates
# `bench (id INT PRIMARY KEY, v VARCHAR(32))` with 1,000 rows, then runs, REPS times each,
# alternating: weave-mysql text (`SELECT v FROM bench WHERE id = 17`, mysqlslap's query),
# weave-mysql prepared (`... WHERE id = ?`), pymysql+gevent text and parameter (`%s`, which
# PyMySQL escapes into the text: it has no server-side prepared statements), and mysqlslap
# --concurrency=C with that query. Prints the best queries/s of each and stops the server.
#
# Knobs (environment): CONCURRENCY=64, QUERIES=50000, REPS=3, HUBS=1 (weave-mysql's hubs, one
# thread each, the connections split over them), WEAVE_MYSQL (a binary to use instead of building). Needs Debian's mariadb-server and mariadb-client (mysqlslap);
# the Python peer needs gevent and PyMySQL (pip install gevent pymysql) and is skipped with a
# message without them.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
CONCURRENCY=${CONCURRENCY:-64}
QUERIES=${QUERIES:-50000}
REPS=${REPS:-3}
HUBS=${HUBS:-1}

for tool in mariadbd mariadb-install-db mariadb mysqlslap; do
  command -v "$tool" >/dev/null || [[ -x /usr/sbin/$tool ]] || {
    echo "[compare-mysql] $tool not found (apt-get install mariadb-server mariadb-client)" >&2; exit 1; }
done
if [[ -z "${WEAVE_MYSQL:-}" ]]; then
  echo "[compare-mysql] swift build -c release --product weave-mysql" >&2
  (cd "$HERE" && swift build -c release --product weave-mysql >&2)
  WEAVE_MYSQL="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-mysql"
fi

DIR=$(mktemp -d /tmp/weave-mysql-bench-XXXXXX)
PORT=$(free_port)
SERVER_PID=
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

echo "[compare-mysql] mariadb-install-db + mariadbd on 127.0.0.1:$PORT ($DIR)" >&2
mariadb-install-db --no-defaults --datadir="$DIR/data" --auth-root-authentication-method=normal \
  --skip-test-db --user="$(id -un)" >"$DIR/install.log" 2>&1
PATH="$PATH:/usr/sbin" mariadbd --no-defaults --user="$(id -un)" --datadir="$DIR/data" --socket="$DIR/sock" \
  --port="$PORT" --bind-address=127.0.0.1 --log-error="$DIR/error.log" --pid-file="$DIR/pid" \
  --skip-name-resolve --max-connections=1000 --innodb-buffer-pool-size=64M >/dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  mariadb --no-defaults -uroot --socket="$DIR/sock" -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
ROWS=$(python3 -c 'print(",".join(f"({i},\"value {i}\")" for i in range(1, 1001)))')
mariadb --no-defaults -uroot --socket="$DIR/sock" <<SQL
CREATE USER 'bench'@'%' IDENTIFIED BY 'bench-secret';
GRANT ALL ON *.* TO 'bench'@'%';
CREATE DATABASE bench;
CREATE TABLE bench.bench (id INT PRIMARY KEY, v VARCHAR(32)) ENGINE=InnoDB;
INSERT INTO bench.bench VALUES $ROWS;
SQL

export WEAVE_MYSQL PORT CONCURRENCY QUERIES REPS HUBS PEERS="$HERE/Peers"
# Not exec: the EXIT trap stops the server afterwards.
python3 - <<'PY'
import json, os, re, subprocess, sys

W, PORT = os.environ["WEAVE_MYSQL"], os.environ["PORT"]
C, Q, REPS = (int(os.environ[k]) for k in ("CONCURRENCY", "QUERIES", "REPS"))
best = {}
gevent_ok = subprocess.run([sys.executable, "-c", "import gevent, pymysql"], capture_output=True).returncode == 0
if not gevent_ok:
    print("[compare-mysql] gevent or PyMySQL missing (pip install gevent pymysql): pymysql+gevent skipped", flush=True)

def keep(name, qps):
    if qps and qps > best.get(name, 0):
        best[name] = qps

for _ in range(REPS):
    for mode in ("text", "prepared"):
        cmd = [W, "127.0.0.1", PORT, "bench", "bench-secret", "bench", str(C), str(Q), mode, os.environ["HUBS"]]
        print("[compare-mysql] " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        if r.returncode != 0 or not rows:
            print(f"[compare-mysql]   failed rc={r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}", flush=True)
        for row in rows:
            keep(f"weave-mysql {mode}", row["qps"])
    if gevent_ok:
        cmd = [sys.executable, os.path.join(os.environ["PEERS"], "pymysql_gevent.py"), "127.0.0.1", PORT,
               "bench", "bench-secret", "bench", str(C), str(Q), "both"]
        print("[compare-mysql] " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        if r.returncode != 0 or not rows:
            print(f"[compare-mysql]   failed rc={r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}", flush=True)
        for row in rows:
            keep("pymysql+gevent " + ("text" if row["mode"] == "text" else "parameter"), row["qps"])
    cmd = ["mysqlslap", "--no-defaults", "-h", "127.0.0.1", "-P", PORT, "-ubench", "-pbench-secret",
           "--create-schema=bench", f"--concurrency={C}", "--iterations=1", f"--number-of-queries={Q}",
           "--query=SELECT v FROM bench WHERE id = 17"]
    print("[compare-mysql] " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    m = re.search(r"Average number of seconds to run all queries: ([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        print(f"[compare-mysql]   failed rc={r.returncode}: {(r.stdout + r.stderr).strip()[-300:]}", flush=True)
    else:
        # mysqlslap splits the queries over its clients: each runs Q / C of them.
        keep("mysqlslap", int((Q // C) * C / float(m.group(1))))

print()
print(f"point select by primary key, {C} clients, {Q} queries, best of {REPS}, weave-mysql on {os.environ['HUBS']} hub(s)")
print(f"{'client':<24} {'queries/s':>10} {'vs mysqlslap':>13}")
names = ["weave-mysql text", "weave-mysql prepared", "mysqlslap"]
if gevent_ok:
    names[2:2] = ["pymysql+gevent text", "pymysql+gevent parameter"]
for name in names:
    qps = best.get(name)
    ratio = f"{qps / best['mysqlslap']:.2f}x" if qps and best.get("mysqlslap") else "-"
    print(f"{name:<24} {qps if qps else 'failed':>10} {ratio:>13}")
PY
