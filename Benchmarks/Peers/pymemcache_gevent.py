"""pymemcache under gevent: the Python world's memcached client, beside weave-memcached.

    python3 pymemcache_gevent.py PORT [GREENLETS=50] [REQUESTS=200000] [WORKLOADS=set,get,mixed]

Same shapes as weave-memcached: GREENLETS greenlets, one pymemcache Client (one connection)
each, REQUESTS in all; 10,000 keys of 20 bytes, 32-byte values; workloads set, get (after
the sets), mixed (one set in ten). One JSON line per workload.
"""
from gevent import monkey

monkey.patch_all()

import json
import sys
import time

import gevent
from pymemcache.client.base import Client

port = int(sys.argv[1])
greenlets = int(sys.argv[2]) if len(sys.argv) > 2 else 50
requests = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
workloads = sys.argv[4].split(",") if len(sys.argv) > 4 else ["set", "get", "mixed"]
KEYS = [f"memcached-key:{i + 100_000}" for i in range(10_000)]  # 20 bytes, as memaslap's
VALUE = b"v" * 32
clients = [Client(("127.0.0.1", port), no_delay=True) for _ in range(greenlets)]
for key in KEYS:
    clients[0].set(key, VALUE, noreply=False)


def work(index, workload, count):
    client = clients[index]
    position = index * 7919 % len(KEYS)
    for request in range(count):
        key = KEYS[position]
        position = (position + 1) % len(KEYS)
        if workload == "set" or (workload == "mixed" and request % 10 == 0):
            client.set(key, VALUE, noreply=False)
        else:
            client.get(key)


for workload in workloads:
    per = requests // greenlets
    start = time.perf_counter()
    gevent.joinall([gevent.spawn(work, i, workload, per) for i in range(greenlets)], raise_error=True)
    seconds = time.perf_counter() - start
    total = per * greenlets
    print(json.dumps({"client": "pymemcache+gevent", "workload": workload, "coroutines": greenlets,
                      "requests": total, "seconds": seconds, "ops_per_sec": int(total / seconds)}), flush=True)
