"""multiprocessing.Pool(2).map of N trivial tasks (x + 1), the peer of `weave-procpool trivial`.

Usage: python3 procpool_trivial.py [N] [CHUNKSIZE ...]     (defaults: 20000, chunk sizes 1 and 64)

Pool start-up (the fork of the workers) and a warm-up map are outside the timing, as in
weave-procpool. One JSON line per chunk size.
"""
import json
import multiprocessing as mp
import sys
import time


def increment(x):
    return x + 1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    chunk_sizes = [int(a) for a in sys.argv[2:]] or [1, 64]
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(increment, range(100))  # warm the workers
        for chunk_size in chunk_sizes:
            start = time.perf_counter()
            outputs = pool.map(increment, range(n), chunksize=chunk_size)
            seconds = time.perf_counter() - start
            assert outputs[-1] == n
            print(json.dumps({"bench": "procpool_trivial", "impl": "py-mp-Pool(2)", "chunksize": chunk_size,
                              "n": n, "secs": round(seconds, 4), "tasks_per_s": int(n / seconds)}), flush=True)


if __name__ == "__main__":
    main()
