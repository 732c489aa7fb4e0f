"""gevent peers for Weave's coordination benchmarks (issue 3): Queue put+get between two
greenlets, and Pool.map of trivial items. Prints one JSON line per case, like weave-micro.
Usage: python3 gevent_coordination.py [ITEMS] [MAP_ITEMS]"""
import json
import sys
import time

import gevent
from gevent.pool import Pool
from gevent.queue import Queue

items = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
map_items = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000

queue = Queue()
total = 0


def consume():
    global total
    for _ in range(items):
        total += queue.get()


consumer = gevent.spawn(consume)
start = time.perf_counter()
for value in range(items):
    queue.put(value)
    if value % 64 == 63:
        gevent.sleep(0)
consumer.join()
elapsed = time.perf_counter() - start
print(json.dumps({"bench": "queue", "impl": "gevent-queue", "items": items,
                  "ns_per_item": round(elapsed * 1e9 / items, 2)}))

pool = Pool(100)
start = time.perf_counter()
results = pool.map(lambda value: value + 1, range(map_items))
elapsed = time.perf_counter() - start
assert results[-1] == map_items
print(json.dumps({"bench": "poolmap", "impl": "gevent-pool", "items": map_items, "size": 100,
                  "ns_per_item": round(elapsed * 1e9 / map_items, 2)}))
