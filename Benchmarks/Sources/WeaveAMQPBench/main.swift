// weave-amqp URL MODE COUNT SIZE: one measurement against a RabbitMQ broker, printed as a
// JSON line (compare-amqp.sh runs it beside Peers/pika_bench.py with the same arguments).
//
//   publish-sync    one coroutine; each publish waits for its confirm (pika's BlockingChannel way)
//   publish-window  confirm mode; publish without waiting, waitForConfirms every 1000 messages
//   publish-many    50 coroutines on one channel, each publish waiting for its own confirm
//   consume         COUNT messages queued first (untimed), then consumed with prefetch 1000,
//                   each acknowledged
// Prints "timed" on a line of its own when the timed part starts (compare-amqp.sh samples the
// broker's CPU time from there); with AMQP_BENCH_HOLD set, keeps the connection open after its
// result line until stdin ends.
import Glibc
import Weave
import WeaveAMQP

let arguments = CommandLine.arguments
guard arguments.count == 5, let count = Int(arguments[3]), let size = Int(arguments[4]) else {
    FileHandleError.write("usage: weave-amqp URL publish-sync|publish-window|publish-many|consume|consume-noack COUNT SIZE\n")
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
        var ioStart = (reads: 0, writes: 0)
        switch mode {
        case "publish-sync":
            try channel.confirmSelect()
            markTimed()
            ioStart = syscallCounts()
            cpuStart = cpuSeconds()
            let start = ContinuousClock.now
            for _ in 0..<count { try channel.publish(body, routingKey: queue) }
            elapsed = .now - start
        case "publish-window":
            try channel.confirmSelect()
            markTimed()
            ioStart = syscallCounts()
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
            markTimed()
            ioStart = syscallCounts()
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
        case "consume", "consume-noack":
            let noAck = mode == "consume-noack"
            try channel.confirmSelect()
            for index in 1...count {
                try channel.publish(body, routingKey: queue, waitForConfirm: false)
                if index % 1000 == 0 { try channel.waitForConfirms() }
            }
            try channel.waitForConfirms()
            try channel.qos(prefetchCount: 1000)
            markTimed()
            ioStart = syscallCounts()
            cpuStart = cpuSeconds()
            let start = ContinuousClock.now
            let consumer = try channel.consume(queue: queue, noAck: noAck)
            var received = 0
            while received < count, let delivery = try consumer.next() {
                if !noAck { try delivery.ack() }
                received += 1
            }
            elapsed = .now - start
        default:
            throw AMQPBenchError(description: "unknown mode \(mode)")
        }
        let cpu = cpuSeconds() - cpuStart
        let io = syscallCounts()
        let reads = Double(io.reads - ioStart.reads) / Double(count), writes = Double(io.writes - ioStart.writes) / Double(count)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("{\"impl\":\"weave\",\"bench\":\"\(mode)\",\"count\":\(count),\"size\":\(size),\"seconds\":\(seconds),\"cpu_us_per_msg\":\(cpu * 1e6 / Double(count)),\"read_calls_per_msg\":\(reads),\"write_calls_per_msg\":\(writes),\"msgs_per_s\":\(Int(Double(count) / seconds))}")
        fflush(nil)
        if getenv("AMQP_BENCH_HOLD") != nil {
            // The connection stays open until stdin ends: the broker's statistics of a closed
            // channel can be lost. The writer sends the last acks first (it runs while this
            // coroutine sleeps); then a plain read, during which nothing runs on this hub.
            try Coroutine.sleep(for: .milliseconds(100))
            var byte: UInt8 = 0
            while Glibc.read(0, &byte, 1) > 0 {}
        }
    }
} catch {
    FileHandleError.write("weave-amqp: \(error)\n")
    exit(1)
}

/// Tells compare-amqp.sh that the timed part starts now.
func markTimed() {
    print("timed")
    fflush(nil)  // every output stream: stdout itself is not concurrency-safe to name
}

/// User and system CPU time of this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Read and write system calls of this process so far (`syscr` and `syscw` of /proc/self/io):
/// how many writes (acks) and reads a message cost.
func syscallCounts() -> (reads: Int, writes: Int) {
    guard let file = fopen("/proc/self/io", "r") else { return (0, 0) }
    defer { fclose(file) }
    var counts = (reads: 0, writes: 0)
    var line = [CChar](repeating: 0, count: 128)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(cString: line)
        let value = Int(text.split(separator: " ").last?.filter(\.isNumber) ?? "") ?? 0
        if text.hasPrefix("syscr:") { counts.reads = value }
        if text.hasPrefix("syscw:") { counts.writes = value }
    }
    return counts
}

struct AMQPBenchError: Error, CustomStringConvertible {
    let description: String
}
