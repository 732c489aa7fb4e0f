// weave-amqp URL MODE COUNT SIZE: one measurement against a RabbitMQ broker, printed as a
// JSON line (compare-amqp.sh runs it beside Peers/pika_bench.py with the same arguments).
//
//   publish-sync    one coroutine; each publish waits for its confirm (pika's BlockingChannel way)
//   publish-window  confirm mode; publish without waiting, waitForConfirms every 1000 messages
//   publish-many    50 coroutines on one channel, each publish waiting for its own confirm
//   consume         COUNT messages queued first (untimed), then consumed with prefetch 1000,
//                   each acknowledged
import Glibc
import Weave
import WeaveAMQP

let arguments = CommandLine.arguments
guard arguments.count == 5, let count = Int(arguments[3]), let size = Int(arguments[4]) else {
    FileHandleError.write("usage: weave-amqp URL publish-sync|publish-window|publish-many|consume COUNT SIZE\n")
    exit(64)
}
let url = arguments[1], mode = arguments[2]
let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)

enum FileHandleError {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

do {
    try Hub.run {
        let connection = try AMQPConnection.connect(url: url)
        defer { connection.close() }
        let channel = try connection.openChannel()
        let queue = "weave-bench-\(getpid())"
        try channel.queueDeclare(queue, exclusive: true)
        var elapsed = Duration.zero
        var cpuStart = 0.0
        switch mode {
        case "publish-sync":
            try channel.confirmSelect()
            cpuStart = cpuSeconds()
            let start = ContinuousClock.now
            for _ in 0..<count { try channel.publish(body, routingKey: queue) }
            elapsed = .now - start
        case "publish-window":
            try channel.confirmSelect()
            cpuStart = cpuSeconds()
            let start = ContinuousClock.now
            for index in 1...count {
                try channel.publish(body, routingKey: queue, waitForConfirm: false)
                if index % 1000 == 0 { try channel.waitForConfirms() }
            }
            try channel.waitForConfirms()
            elapsed = .now - start
        case "publish-many":
            try channel.confirmSelect()
            cpuStart = cpuSeconds()
            let start = ContinuousClock.now
            let workers = 50
            let publishers = try (0..<workers).map { worker in
                try spawn {
                    for _ in stride(from: worker, to: count, by: workers) { try channel.publish(body, routingKey: queue) }
                }
            }
            try joinAll(publishers)
            elapsed = .now - start
        case "consume":
            try channel.confirmSelect()
            for index in 1...count {
                try channel.publish(body, routingKey: queue, waitForConfirm: false)
                if index % 1000 == 0 { try channel.waitForConfirms() }
            }
            try channel.waitForConfirms()
            try channel.qos(prefetchCount: 1000)
            cpuStart = cpuSeconds()
            let start = ContinuousClock.now
            let consumer = try channel.consume(queue: queue)
            var received = 0
            while received < count, let delivery = try consumer.next() {
                try delivery.ack()
                received += 1
            }
            elapsed = .now - start
        default:
            throw AMQPBenchError(description: "unknown mode \(mode)")
        }
        let cpu = cpuSeconds() - cpuStart
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("{\"impl\":\"weave\",\"bench\":\"\(mode)\",\"count\":\(count),\"size\":\(size),\"seconds\":\(seconds),\"cpu_us_per_msg\":\(cpu * 1e6 / Double(count)),\"msgs_per_s\":\(Int(Double(count) / seconds))}")
    }
} catch {
    FileHandleError.write("weave-amqp: \(error)\n")
    exit(1)
}

/// User and system CPU time of this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

struct AMQPBenchError: Error, CustomStringConvertible {
    let description: String
}
