"""Celery through a RabbitMQ broker, the peer of `weave-distributed` (compare-distributed.sh).

The same file is the Celery app its worker loads and the client:

    CELERY_BENCH_BROKER=amqp://... CELERY_BENCH_QUEUE=q CELERY_BENCH_PREFETCH=8 \\
        celery -A celery_bench worker --pool prefork --concurrency 2 -Q q     (the worker)
    CELERY_BENCH_BROKER=... CELERY_BENCH_QUEUE=q python3 celery_bench.py throughput N
    CELERY_BENCH_BROKER=... CELERY_BENCH_QUEUE=q python3 celery_bench.py latency N

throughput: N trivial tasks (x + 1) sent with `delay`, then their results collected (a
ResultSet: the rpc backend's native join); latency: one task at a time, `delay(...).get()`,
N round trips, p50 and p99. Results come back through the `rpc://` backend (a reply queue).
A warm-up that both worker processes must have answered runs outside the timing. One JSON
line per run.
"""
import json
import os
import sys
import time

from celery import Celery
from celery.result import ResultSet

QUEUE = os.environ.get("CELERY_BENCH_QUEUE", "celery-bench")
app = Celery("celery_bench", broker=os.environ["CELERY_BENCH_BROKER"], backend="rpc://")
app.conf.update(
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=int(os.environ.get("CELERY_BENCH_PREFETCH", "4")),
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.increment")
def increment(x):
    return x + 1


@app.task(name="bench.worker_pid")
def worker_pid(_):
    return os.getpid()


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    workers = int(os.environ.get("WORKERS", "2"))
    seen = set()
    for _ in range(200):
        if len(seen) >= workers:
            break
        seen.update(ResultSet([worker_pid.delay(i) for i in range(20 * workers)]).get(timeout=60))
    assert len(seen) >= workers, f"only {len(seen)} of {workers} worker processes answered"
    ResultSet([increment.delay(i) for i in range(200)]).get(timeout=60)
    if mode == "throughput":
        start = time.perf_counter()
        outputs = ResultSet([increment.delay(i) for i in range(n)]).get(timeout=600)
        seconds = time.perf_counter() - start
        assert len(outputs) == n and sorted(outputs)[-1] == n
        print(json.dumps({"bench": "distributed_throughput", "impl": "celery-prefork(2)", "n": n,
                          "secs": round(seconds, 4), "tasks_per_s": int(n / seconds)}), flush=True)
    else:
        samples = []
        for i in range(n):
            start = time.perf_counter()
            output = increment.delay(i).get(timeout=60)
            samples.append((time.perf_counter() - start) * 1e6)
            assert output == i + 1
        samples.sort()
        p50 = samples[len(samples) // 2]
        p99 = samples[min(len(samples) - 1, len(samples) * 99 // 100)]
        print(json.dumps({"bench": "distributed_latency", "impl": "celery-prefork(2)", "n": n,
                          "p50_us": round(p50, 1), "p99_us": round(p99, 1)}), flush=True)


if __name__ == "__main__":
    main()
