"""redis-py under gevent: the Python world's Redis client, beside weave-redis.

    python3 redis_py_gevent.py PORT set|get [REQUESTS=200000] [GREENLETS=50]

gevent monkey-patches the socket module; GREENLETS greenlets share one redis-py client and
its connection pool (each greenlet holds a connection for one command: one command each in
flight, up to GREENLETS connections), REQUESTS in all. Keys as weave-redis's (key:N over
100,000 names), 3-byte values. One JSON line, in weave-redis's shape.
"""
from gevent import monkey

monkey.patch_all()

import json
import sys
import time

import gevent
import redis

port = int(sys.argv[1])
test = sys.argv[2]
requests = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
greenlets = int(sys.argv[4]) if len(sys.argv) > 4 else 50
KEYS = [f"key:{i}" for i in range(100_000)]
client = redis.Redis(host="127.0.0.1", port=port, max_connections=greenlets)
client.ping()


def work(index):
    count = requests // greenlets + (1 if index < requests % greenlets else 0)
    position = index
    for _ in range(count):
        key = KEYS[position % len(KEYS)]
        position += greenlets
        if test == "set":
            client.set(key, "xxx")
        else:
            client.get(key)


start = time.perf_counter()
gevent.joinall([gevent.spawn(work, i) for i in range(greenlets)], raise_error=True)
seconds = time.perf_counter() - start
print(json.dumps({"name": "redis-py+gevent", "test": test.upper(), "requests": requests, "clients": greenlets,
                  "seconds": round(seconds, 3), "rps": int(requests / seconds)}), flush=True)
