"""pika's side of compare-amqp.sh: pika_bench.py URL MODE COUNT SIZE, one JSON line out.

publish-sync  BlockingChannel in confirm mode: each basic_publish waits for the broker's ack
consume       COUNT messages queued first (untimed: published without confirms, then the queue's
              count polled until all are in), then consumed with prefetch 1000 through
              basic_consume + start_consuming, each acknowledged
Prints "timed" on a line of its own when the timed part starts (compare-amqp.sh samples the
broker's CPU time from there); with AMQP_BENCH_HOLD set, keeps the connection open after its
result line until stdin ends (the broker's statistics of a closed channel can be lost).
(pika's BlockingConnection has no windowed or concurrent confirms, so the other Weave modes
have no pika row of their own.)
"""
import json
import os
import sys
import time

import pika


def main():
    url, mode, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    body = b"x" * size
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    queue = f"pika-bench-{os.getpid()}"
    channel.queue_declare(queue=queue, exclusive=True)
    if mode == "publish-sync":
        channel.confirm_delivery()
        print("timed", flush=True)
        cpu_start = time.process_time()
        start = time.perf_counter()
        for _ in range(count):
            channel.basic_publish(exchange="", routing_key=queue, body=body)
        elapsed = time.perf_counter() - start
        cpu_end = time.process_time()
    elif mode in ("consume", "consume-noack"):
        auto_ack = mode == "consume-noack"
        # One confirm at a time would take pika minutes for a large COUNT; the queue's own
        # count says when every message is in.
        for _ in range(count):
            channel.basic_publish(exchange="", routing_key=queue, body=body)
        while channel.queue_declare(queue=queue, passive=True).method.message_count < count:
            time.sleep(0.05)
        channel.basic_qos(prefetch_count=1000)
        received = 0

        def on_message(ch, method, properties, payload):
            nonlocal received
            if not auto_ack:
                ch.basic_ack(delivery_tag=method.delivery_tag)
            received += 1
            if received == count:
                ch.stop_consuming()

        print("timed", flush=True)
        cpu_start = time.process_time()
        start = time.perf_counter()
        channel.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=auto_ack)
        channel.start_consuming()
        elapsed = time.perf_counter() - start
        cpu_end = time.process_time()
    else:
        sys.exit(f"unknown mode {mode}")
    cpu = cpu_end - cpu_start
    print(json.dumps({"impl": "pika", "bench": mode, "count": count, "size": size, "seconds": elapsed,
                      "cpu_us_per_msg": cpu * 1e6 / count, "msgs_per_s": int(count / elapsed)}), flush=True)
    if os.environ.get("AMQP_BENCH_HOLD"):
        sys.stdin.read()  # the channel stays open until the broker has counted all of it
    connection.close()


if __name__ == "__main__":
    main()
