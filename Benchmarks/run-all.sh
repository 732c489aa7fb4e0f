#!/usr/bin/env bash
# Every comparison in Benchmarks/ from a fresh clone, in one command, and the "Latest run"
# section at the top of Benchmarks/RESULTS.md rewritten from their outputs.
#
#   bash Benchmarks/run-all.sh            (from the repo root, or from anywhere; up to an hour)
#   QUICK=1 bash Benchmarks/run-all.sh    (a smoke run: small counts, one run each)
#
# 1. Installs what the scripts need when it is missing: Debian's libuv1-dev, pkg-config, gcc,
#    wrk, golang-go and time (apt-get, through sudo when not root), and gevent for python3
#    (pip, or Debian's python3-gevent). INSTALL=0 skips this step.
# 2. Runs each compare-*.sh below in turn with bounded settings (each under `timeout`, CASE_LIMIT
#    seconds, builds included). A script that fails is reported as failed in its section; the
#    others still run. Logs: .peers-out/run-all/NAME.log.
# 3. Replaces the part of RESULTS.md between the two "run-all.sh" markers (inserted before the
#    first section the first time) with the tables, the exact commands, the commit, the machine
#    and its load. Every other section of RESULTS.md is kept as it is. RESULTS=path writes
#    another file instead; RESULTS=- prints the section only. ONLY=compare-timers,compare-servers
#    runs only those scripts (the section then holds only theirs).
#
# The figures are only as good as the machine is quiet: the section records the load average
# before and after. Pinning follows each script (work on CPU 1, load generators on CPU 0), so
# the machine needs two CPUs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
QUICK=${QUICK:-0}
INSTALL=${INSTALL:-1}
RESULTS=${RESULTS:-$HERE/RESULTS.md}
LOGS=$ROOT/.peers-out/run-all
mkdir -p "$LOGS"
say() { echo "[run-all] $*" >&2; }

# ---------------------------------------------------------------- 1. what the scripts need
if [[ $INSTALL == 1 ]]; then
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO=sudo
  missing=()
  pkg-config --exists libuv 2>/dev/null || missing+=(libuv1-dev pkg-config)
  command -v gcc >/dev/null || missing+=(gcc)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v go >/dev/null || missing+=(golang-go)
  [[ -x /usr/bin/time ]] || missing+=(time)
  command -v taskset >/dev/null || missing+=(util-linux)
  # The client comparisons: their servers, the reference load tools, Connector/C.
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-benchmark >/dev/null || missing+=(redis-tools)
  command -v memcached >/dev/null || missing+=(memcached)
  command -v memcaslap >/dev/null || missing+=(libmemcached-tools)
  [[ -x /usr/sbin/mariadbd ]] || missing+=(mariadb-server)
  # TLS, HTTPS (nginx beside Go) and AMQP.
  command -v openssl >/dev/null || missing+=(openssl)
  command -v nginx >/dev/null || missing+=(nginx-light)
  command -v rabbitmq-server >/dev/null || [[ -x /usr/sbin/rabbitmq-server ]] || missing+=(rabbitmq-server)
  command -v mysqlslap >/dev/null || missing+=(mariadb-client)
  pkg-config --exists libmariadb 2>/dev/null || missing+=(libmariadb-dev)
  if ((${#missing[@]})); then
    say "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
  fi
  if ! python3 -c 'import pymemcache' 2>/dev/null; then
    python3 -m pip install --quiet 'pymemcache==4.0.0' >&2 || say "pip install pymemcache failed: compare-memcached skips that peer"
  fi
  # redis-py and PyMySQL for the gevent rows of compare-redis and compare-mysql.
  for module in redis pymysql; do
    if ! python3 -c "import $module" 2>/dev/null; then
      python3 -m pip install --quiet "$module" >&2 || say "pip install $module failed: its gevent row is skipped"
    fi
  done
  if ! python3 -c 'import gevent' 2>/dev/null; then
    say "gevent for $(command -v python3): pip install gevent"
    python3 -m pip install --quiet gevent >&2 \
      || { say "pip refused; apt-get install python3-gevent"; $SUDO apt-get update -qq;
           DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-gevent >&2; }
  fi
fi

# ---------------------------------------------------------------- 2. the comparisons
# name|title|settings (environment) for a full run|settings for QUICK=1
# compare-micro builds the Go peers compare-spawn-shapes uses, so it runs first.
CASES=(
  "compare-micro|Micro benchmarks beside Go (and ucontext)|REPS=3|N=100000 REPS=1 BIG_REPS=1 TIMERS_N=10000 IDLE_STACKS=64k"
  "compare-spawn-shapes|Spawn by batch size beside Go|REPS=3|N=100000 REPS=1 SHAPES='10 1000'"
  "compare-coordination|Coordination beside gevent and Go|REPS=3|REPS=1"
  "compare-timers|Timers beside Go|REPS=3|REPS=1 N=10000 ROUNDS=50"
  "compare-procpool|Process pool beside multiprocessing.Pool|REPS=3|REPS=1"
  "compare-procpool-chunks|Process pool, trivial tasks by chunk size|REPS=3 N=20000|REPS=1 N=5000"
  "compare-servers|Echo and HTTP beside raw libuv C|RUNS=3 DURATION=5|RUNS=1 DURATION=2"
  "compare-cores|Every core: spin and hello beside Go and NIO|RUNS=3 DURATION=5|RUNS=1 DURATION=2"
  "compare-crosshub|Cross-hub channel beside a Go channel|REPS=3|REPS=1"
  "compare-redis|Redis client beside redis-benchmark|REPS=3 N=200000|REPS=1 N=20000"
  "compare-memcached|memcached client beside memaslap and pymemcache|REPS=3 REQUESTS=100000|REPS=1 REQUESTS=10000"
  "compare-mysql|MySQL point selects beside mysqlslap|REPS=3|REPS=1 QUERIES=10000"
  "compare-tls|TLS handshakes and bulk echo beside Go|REPS=3|REPS=1 SECONDS_PER_RUN=2"
  "compare-https|HTTPS hello and handshakes beside Go and nginx|RUNS=3 DURATION=5|RUNS=1 DURATION=2"
  "compare-http-client|HTTP clients beside Go and requests+gevent|REPS=3|REPS=1"
  "compare-amqp|AMQP beside pika|REPS=3|REPS=1 N=20000 N_SYNC=2000"
  "compare-distributed|DistributedPool beside Celery|REPS=3|REPS=1 N=1000 LAT_N=200"
)
if [[ $QUICK == 1 ]]; then CASE_LIMIT=${CASE_LIMIT:-1800}; else CASE_LIMIT=${CASE_LIMIT:-3600}; fi

SECTIONS=$(mktemp -d)
trap 'rm -rf "$SECTIONS"' EXIT
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date +%s)
index=0
for entry in "${CASES[@]}"; do
  IFS='|' read -r name title full quick <<<"$entry"
  [[ -z ${ONLY:-} || ,$ONLY, == *,$name,* ]] || continue
  settings=$full
  [[ $QUICK == 1 ]] && settings=$quick
  command="$settings bash Benchmarks/$name.sh"
  say "$command (log: .peers-out/run-all/$name.log)"
  began=$(date +%s)
  status=0
  (cd "$ROOT" && eval "env $settings timeout -k 30 $CASE_LIMIT bash \"$HERE/$name.sh\"") \
    >"$SECTIONS/$name.out" 2>"$LOGS/$name.log" || status=$?
  took=$(($(date +%s) - began))
  say "$name: exit $status after ${took}s"
  if [[ $name == compare-micro && $status == 0 && -f $ROOT/.peers-out/results/weave-micro-latest.md ]]; then
    # Its stdout is the per-run JSON; the table it writes is the part to keep.
    cp "$ROOT/.peers-out/results/weave-micro-latest.md" "$SECTIONS/$name.out"
  fi
  cat "$SECTIONS/$name.out" >>"$LOGS/$name.log"
  index=$((index + 1))
  printf '%s\n%s\n%s\n%s\n' "$title" "$command" "$status" "$took" >"$SECTIONS/$(printf %02d "$index").meta"
  cp "$SECTIONS/$name.out" "$SECTIONS/$(printf %02d "$index").out"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
TOTAL=$(($(date +%s) - STARTED))

# ---------------------------------------------------------------- 3. RESULTS.md
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT plus uncommitted changes"
export SECTIONS RESULTS QUICK COMMIT LOAD_BEFORE LOAD_AFTER TOTAL CASE_LIMIT
export SWIFT_VERSION=$(swift --version 2>/dev/null | head -1)
export GO_VERSION=$(go version 2>/dev/null | awk '{print $3}')
export PY_VERSION=$(python3 -c 'import sys, gevent; print(f"Python {sys.version.split()[0]}, gevent {gevent.__version__}")' 2>/dev/null || python3 --version)
export LIBUV_VERSION=$(pkg-config --modversion libuv 2>/dev/null)
python3 - <<'PY'
import glob, os, re, time

START = "<!-- run-all.sh: latest run, start. Rewritten by `bash Benchmarks/run-all.sh`, up to the end marker. -->"
END = "<!-- run-all.sh: latest run, end -->"
env = os.environ
quick = env["QUICK"] == "1"

def minutes(seconds):
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"

lines = [START, "", f"## Latest run: `bash Benchmarks/run-all.sh`{' with QUICK=1' if quick else ''}, "
         f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
if quick:
    lines += ["**QUICK=1: smoke settings (small counts, one run each). These figures show that every "
              "comparison runs; they are not for comparison with the sections below.**", ""]
uname = os.uname()
lines += [f"Commit `{env['COMMIT']}`; {os.cpu_count()} CPUs, Linux {uname.release} ({uname.machine}); "
          f"{env.get('SWIFT_VERSION', '')}; {env.get('GO_VERSION') or 'no Go'}; {env.get('PY_VERSION', '')}; "
          f"libuv {env.get('LIBUV_VERSION') or '?'}. Load average before: {env['LOAD_BEFORE']}, after: "
          f"{env['LOAD_AFTER']} (a loaded machine moves every figure). Whole run: {minutes(env['TOTAL'])}, "
          f"builds included; each script bounded at {minutes(env['CASE_LIMIT'])}.", ""]
for meta in sorted(glob.glob(os.path.join(env["SECTIONS"], "[0-9][0-9].meta"))):
    title, command, status, took = open(meta).read().splitlines()[:4]
    output = open(meta[:-5] + ".out", errors="replace").read().splitlines()
    name = re.search(r"Benchmarks/(\S+)\.sh", command).group(1)
    lines += [f"### {title}", "", f"Command: `{command}` ({minutes(took)}, builds included)", ""]
    kept = []
    for line in output:
        # Progress lines and raw JSON records stay in the log; tables and their notes are kept.
        if line.startswith("[") or line.lstrip().startswith("{"):
            continue
        kept.append(line[2:] if line.startswith("# ") else line)
    # A table needs a blank line before it to render as one.
    spaced = []
    for line in kept:
        if line.startswith("|") and spaced and spaced[-1].strip() and not spaced[-1].startswith("|"):
            spaced.append("")
        spaced.append(line)
    kept = spaced
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    if status != "0":
        lines += [f"**Failed** (exit {status}{', timed out' if status == '124' else ''}): "
                  f"see `.peers-out/run-all/{name}.log`.", ""]
    lines += kept + [""] if kept else ["(no output)", ""]
lines += [END]
section = "\n".join(lines) + "\n"

if env["RESULTS"] == "-":
    print(section, end="")
    raise SystemExit
path = env["RESULTS"]
text = open(path).read() if os.path.exists(path) else "# Weave — benchmark results\n\n"
if START in text and END in text:
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1].lstrip("\n")
    text = head + section + "\n" + tail
else:
    # First run: before the first section, after the introduction.
    match = re.search(r"^## ", text, flags=re.M)
    at = match.start() if match else len(text)
    text = text[:at] + section + "\n" + text[at:]
open(path, "w").write(text)
print(f"[run-all] wrote the latest run into {path}")
PY
