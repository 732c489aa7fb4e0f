"""PyMySQL under gevent: the Python world's MySQL client, beside weave-mysql and mysqlslap.

    python3 pymysql_gevent.py HOST PORT USER PASSWORD DATABASE [GREENLETS=64] [QUERIES=50000] [text|prepared|both]

Same shapes as weave-mysql: GREENLETS greenlets, one PyMySQL connection each (opened before
the clock starts), QUERIES point selects in all. text: `SELECT v FROM bench WHERE id = 17`
(mysqlslap's query); prepared: `... WHERE id = %s` with the id as a parameter, which PyMySQL
escapes into the text on the client (it has no server-side prepared statements). One JSON
line per mode.
"""
from gevent import monkey

monkey.patch_all()

import json
import sys
import time

import gevent
import pymysql

host, port, user, password, database = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
greenlets = int(sys.argv[6]) if len(sys.argv) > 6 else 64
queries = int(sys.argv[7]) if len(sys.argv) > 7 else 50_000
modes = ["text", "prepared"] if len(sys.argv) <= 8 or sys.argv[8] == "both" else [sys.argv[8]]


def work(connection, index, mode, count):
    found = 0
    with connection.cursor() as cursor:
        for round_ in range(count):
            if mode == "text":
                cursor.execute("SELECT v FROM bench WHERE id = 17")
            else:
                cursor.execute("SELECT v FROM bench WHERE id = %s", ((index * 31 + round_) % 1000 + 1,))
            found += len(cursor.fetchall())
    return found


for mode in modes:
    connections = [pymysql.connect(host=host, port=port, user=user, password=password, database=database,
                                   autocommit=True) for _ in range(greenlets)]
    per = queries // greenlets
    start = time.perf_counter()
    jobs = [gevent.spawn(work, connection, index, mode, per) for index, connection in enumerate(connections)]
    gevent.joinall(jobs, raise_error=True)
    seconds = time.perf_counter() - start
    total = per * greenlets
    found = sum(job.value for job in jobs)
    assert found == total, f"expected {total} rows, got {found}"
    for connection in connections:
        connection.close()
    print(json.dumps({"bench": "mysql-point-select", "impl": "pymysql+gevent", "mode": mode, "concurrency": greenlets,
                      "queries": total, "seconds": round(seconds, 3), "qps": int(total / seconds)}), flush=True)
