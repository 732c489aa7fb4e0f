// producer-consumer: producers and consumers over a bounded Queue with taskDone/join

// (the seed course's 生产者消费者模型), printing throughput.
// Run: swift run -c release producer-consumer [items] [producers] [consumers] [maxSize]
import Glibc
import Weave

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let items = arguments.count > 0 ? arguments[0] : 1_000_000
let producerCount = arguments.count > 1 ? arguments[1] : 4
let consumerCount = arguments.count > 2 ? arguments[2] : 4
let maxSize = arguments.count > 3 ? arguments[3] : 64

struct Order {
    let id: Int
    let producer: Int
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

try Hub.run {
    let queue = Queue<Order>(maxSize: maxSize, label: "orders")
    var consumed = [Int](repeating: 0, count: consumerCount)
    var checksum = 0
    let start = ContinuousClock.now

    // Consumers run until cancelled; `join` below tells when every order is done.
    let consumers = try (0..<consumerCount).map { index in
        try spawn(name: "consumer-\(index)") {
            while true {
                let order = try queue.get()
                checksum &+= order.id
                consumed[index] += 1
                try queue.taskDone()
            }
        }
    }
    let perProducer = items / producerCount
    let producers = try (0..<producerCount).map { producer in
        try spawn(name: "producer-\(producer)") {
            for sequence in 0..<perProducer {
                try queue.put(Order(id: producer * perProducer + sequence, producer: producer))
            }
        }
    }
    try joinAll(producers)
    try queue.join()
    let elapsed = ContinuousClock.now - start
    for consumer in consumers { consumer.cancel() }

    let total = perProducer * producerCount
    let expected = total * (total - 1) / 2
    print("producer-consumer: \(producerCount) producers, \(consumerCount) consumers, Queue(maxSize: \(maxSize))\n")
    print("| consumer   |   orders |")
    print("|------------|---------:|")
    for (index, count) in consumed.enumerated() {
        let name = "consumer-\(index)"
        print("| \(name)\(String(repeating: " ", count: max(0, 10 - name.count))) | \(String(repeating: " ", count: max(0, 8 - "\(count)".count)))\(count) |")
    }
    let rate = Double(total) / seconds(elapsed)
    print("\n\(total) orders in \(Int(seconds(elapsed) * 1000)) ms: \(Int(rate)) orders/s, checksum \(checksum == expected ? "ok" : "WRONG")")
    if checksum != expected { exit(1) }
}
