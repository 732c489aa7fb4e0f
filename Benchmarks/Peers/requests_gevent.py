"""Python requests under gevent, the peer of Benchmarks/compare-http-client.sh: C greenlets
share one requests.Session whose pool keeps at most C connections to the host (blocking
when all are busy) and GET URL N times in all, reading each body; prints requests/s."""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
import time  # noqa: E402

import gevent.pool  # noqa: E402
import requests  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402


def main():
    url, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=concurrency, pool_block=True))
    failures = 0

    def get(_):
        nonlocal failures
        response = session.get(url, timeout=30)
        _ = response.content
        if response.status_code != 200:
            failures += 1

    pool = gevent.pool.Pool(concurrency)
    start = time.perf_counter()
    for _ in pool.imap_unordered(get, range(total)):
        pass
    elapsed = time.perf_counter() - start
    if failures:
        sys.exit(f"requests_gevent: {failures} requests failed")
    print(f"{total / elapsed:.0f}")


if __name__ == "__main__":
    main()
