#!/usr/bin/env bash
# WeaveMemcached beside memaslap (libmemcached's C load generator) and pymemcache under gevent
# (the course's world), against one memcached server this script starts and stops itself.
#
#   bash Benchmarks/compare-memcached.sh          (from the repo root, or from anywhere)
#
# 50 clients (coroutines, greenlets, memaslap connections), each with one request in flight,
# 32-byte values, 20-character keys. Workloads: set, get (weave and pymemcache; memaslap's
# get-only run counts its own warm-up sets, so it is left out) and mixed (one set in ten,
# memaslap's default mix). Each client runs REPS times, alternating; the table shows the best
# rate of each and the client's CPU time (user + system) per request, which a loaded machine
# disturbs less than the rate. memcached 1.6+ runs with -t $MEMCACHED_THREADS on 127.0.0.1
# and a free port.
#
# Needs (Debian): memcached, libmemcached-tools (memcaslap), python3-gevent or pip gevent,
# pip pymemcache. A missing peer is reported and skipped; memcached itself is required.
# Knobs (environment): REPS=3, REQUESTS=200000, CLIENTS=50, MEMCACHED_THREADS=2,
# WEAVE_MEMCACHED (a binary to use instead of building).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
command -v memcached >/dev/null || { echo "[compare-memcached] memcached not found (apt-get install memcached)" >&2; exit 1; }
if [[ -z "${WEAVE_MEMCACHED:-}" ]]; then
  echo "[compare-memcached] swift build -c release --product weave-memcached" >&2
  (cd "$HERE" && swift build -c release --product weave-memcached >&2)
  WEAVE_MEMCACHED="$(cd "$HERE" && swift build -c release --show-bin-path)/weave-memcached"
fi
export WEAVE_MEMCACHED PEERS="$HERE/Peers"
export REPS=${REPS:-3} REQUESTS=${REQUESTS:-200000} CLIENTS=${CLIENTS:-50} MEMCACHED_THREADS=${MEMCACHED_THREADS:-2}
exec python3 - <<'PY'
import json, os, re, resource, shutil, socket, subprocess, sys, tempfile, time

REPS, REQUESTS, CLIENTS = int(os.environ["REPS"]), int(os.environ["REQUESTS"]), int(os.environ["CLIENTS"])

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

port = free_port()
command = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", os.environ["MEMCACHED_THREADS"], "-m", "256"]
if os.getuid() == 0:
    command += ["-u", "root"]  # memcached will not run as root otherwise
server = subprocess.Popen(command)
try:
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"version\r\n")
                if s.recv(100).startswith(b"VERSION"):
                    break
        except OSError:
            time.sleep(0.02)
    else:
        sys.exit("[compare-memcached] memcached did not start")

    def run(argv):
        """Runs a client; returns its output and its CPU seconds (user + system)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=600).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return out, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    best = {}  # (client, workload) -> (ops/s, cpu µs per request)
    def record(client, workload, rate, cpu_per_request):
        key = (client, workload)
        if key not in best or rate > best[key][0]:
            best[key] = (rate, cpu_per_request)

    configs = {}
    for name, mix in (("set", "0 1\n1 0\n"), ("mixed", "0 0.1\n1 0.9\n")):
        path = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
        path.write(f"key\n20 20 1\nvalue\n32 32 1\ncmd\n{mix}")
        path.close()
        configs[name] = path.name
    memaslap = shutil.which("memcaslap") or shutil.which("memaslap")
    gevent_ok = subprocess.run([sys.executable, "-c", "import gevent, pymemcache"], capture_output=True).returncode == 0
    if not memaslap:
        print("[compare-memcached] memaslap missing (apt-get install libmemcached-tools): skipped", file=sys.stderr)
    if not gevent_ok:
        print("[compare-memcached] gevent or pymemcache missing (pip install gevent pymemcache): skipped", file=sys.stderr)

    for rep in range(REPS):
        # Weave and pymemcache: one process runs every workload, one JSON line each; the
        # CPU time is split by the requests of each (the warm-up sets are charged too).
        clients = [("weave", [os.environ["WEAVE_MEMCACHED"], str(port), str(CLIENTS), str(REQUESTS)])]
        if gevent_ok:
            clients.append(("pymemcache+gevent", [sys.executable, os.path.join(os.environ["PEERS"], "pymemcache_gevent.py"),
                                                  str(port), str(CLIENTS), str(REQUESTS)]))
        for name, argv in clients:
            out, cpu = run(argv)
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            total = sum(line["requests"] for line in lines) + 10_000
            for line in lines:
                record(name, line["workload"], line["ops_per_sec"], cpu / total * 1e6)
        if memaslap:
            for threads in (1, 2):
                for workload in ("set", "mixed"):
                    out, cpu = run([memaslap, "-s", f"127.0.0.1:{port}", "-T", str(threads), "-c", str(CLIENTS),
                                    "-x", str(REQUESTS), "-F", configs[workload]])
                    match = re.search(r"Ops: (\d+) TPS: (\d+)", out)
                    if match:
                        record(f"memaslap -T {threads}", workload, int(match.group(2)), cpu / int(match.group(1)) * 1e6)

    load = os.getloadavg()[0]
    print(f"memcached get/set, {CLIENTS} clients, one request in flight each, best of {REPS} "
          f"(load average {load:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'client':<22}{'workload':<10}{'requests/s':>12}{'CPU µs/req':>12}{'weave ÷ it':>12}")
    for (client, workload), (rate, cpu) in sorted(best.items(), key=lambda item: (item[0][1], item[0][0] != "weave", item[0][0])):
        weave = best.get(("weave", workload), (0, 0))[0]
        ratio = f"{weave / rate:.2f}x" if client != "weave" and rate else ""
        print(f"{client:<22}{workload:<10}{rate:>12,}{cpu:>12.1f}{ratio:>12}")
finally:
    server.terminate()
    server.wait(timeout=10)
PY
