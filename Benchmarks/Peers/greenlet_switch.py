"""Python greenlet's raw switch (gevent's core), for compare-micro.sh: two greenlets hand
control back and forth ROUNDS times. Prints one JSON line. Usage: greenlet_switch.py [ROUNDS]"""
import json
import sys
import time

import greenlet


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    parent = greenlet.getcurrent()

    def partner():
        while True:
            parent.switch()

    other = greenlet.greenlet(partner)
    start = time.perf_counter()
    for _ in range(rounds):
        other.switch()
    seconds = time.perf_counter() - start
    print(json.dumps({"bench": "switch", "impl": "py-greenlet", "rounds": rounds,
                      "ns_per_switch": round(seconds * 1e9 / (2 * rounds), 1)}))


if __name__ == "__main__":
    main()
