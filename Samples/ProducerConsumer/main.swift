// producer-consumer: producers and consumers over a bounded Queue with taskDone/join
// (the classic multiprocessing 生产者消费者模型), printing throughput.
// Run: swift run -c release producer-consumer [items] [producers] [consumers] [max-size]
import ArgumentParser
import Glibc
import SampleSupport
import Weave

struct ProducerConsumerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "producer-consumer",
        abstract: "Producers and consumers over a bounded Queue with taskDone/join, printing throughput.")

    @Argument(help: "Orders to pass through the queue, split among the producers.")
    var items = 1_000_000

    @Argument(help: "Producer coroutines.")
    var producers = 4

    @Argument(help: "Consumer coroutines.")
    var consumers = 4

    @Argument(help: "The queue's bound: a producer waits while it holds this many.")
    var maxSize = 64

    func validate() throws {
        try require("<items>", items, atLeast: 0)
        try require("<producers>", producers, atLeast: 1)
        try require("<consumers>", consumers, atLeast: 1)
        try require("<max-size>", maxSize, atLeast: 1)
    }

    func run() throws {
        try Hub.run { try exchange(items: items, producerCount: producers, consumerCount: consumers, maxSize: maxSize) }
    }
}

struct Order {
    let id: Int
    let producer: Int
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Passes `items` orders from the producers to the consumers and prints who handled how many.
func exchange(items: Int, producerCount: Int, consumerCount: Int, maxSize: Int) throws {
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

ProducerConsumerCommand.main()
