"""64 prime counts (trial division below 200,000) serially, then on multiprocessing.Pool(2): the
peer of `weave-procpool cpu`, same algorithm. Prints one JSON line with the speed-up.

Usage: python3 procpool_cpu.py [TASKS] [LIMIT]     (defaults: 64, 200000)
"""
import json
import multiprocessing as mp
import sys
import time


def count_primes(limit):
    count = 0
    for candidate in range(2, limit):
        divisor = 2
        while divisor * divisor <= candidate:
            if candidate % divisor == 0:
                break
            divisor += 1
        else:
            count += 1
    return count


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    start = time.perf_counter()
    serial = [count_primes(limit) for _ in range(tasks)]
    serial_seconds = time.perf_counter() - start
    with mp.get_context("fork").Pool(2) as pool:
        start = time.perf_counter()
        pooled = pool.map(count_primes, [limit] * tasks, chunksize=1)
        pool_seconds = time.perf_counter() - start
    assert pooled == serial
    print(json.dumps({"bench": "procpool_cpu", "impl": "py-mp-Pool(2)", "n": tasks, "prime_limit": limit,
                      "serial_secs": round(serial_seconds, 3), "pool_secs": round(pool_seconds, 3),
                      "speedup": round(serial_seconds / pool_seconds, 2)}), flush=True)


if __name__ == "__main__":
    main()
