import Glibc
import Weave
import WeaveAMQP
import WeaveDistributed

/// `--broker`: the same prime counts on a DistributedPool, over `workers` worker processes
/// this program starts itself (itself again, in broker-worker mode: DistributedWorker.main
/// at the top of main.swift). Workers on other machines would run the same program with
/// WEAVE_BROKER_URL and WEAVE_BROKER_QUEUE set; here they are local, to keep it one command.
/// Returns the total and how long the distributed run took.
func countOnBroker(_ tasks: [CountPrimes], url: String, workers: Int) throws -> (total: Int, time: Duration) {
    let queue = "prime-pool-\(CurrentProcess.id)"
    let pool = try DistributedPool(url: url, queue: queue)
    defer { pool.close() }
    let processes = try (0..<workers).map { _ in
        try Command.spawn(
            ownExecutable(),
            environment: Command.inheritedEnvironment(adding: [
                DistributedWorker.Environment.url: url,
                DistributedWorker.Environment.queue: queue,
            ]),
            standardInput: .discard, standardOutput: .discard, standardError: .inherit,
            parentDeathSignal: SIGTERM)
    }
    defer {
        for process in processes { try? process.terminate() }
        // The work queue is durable (it outlives pools and workers); this one was the run's own.
        if let connection = try? AMQPConnection.connect(url: url) {
            _ = try? connection.openChannel().queueDelete(queue)
            connection.close()
        }
    }
    print("  broker: queue '\(queue)', \(workers) worker processes")
    let start = ContinuousClock.now
    var total = 0
    var done = 0
    // Results stream in as the workers finish ranges, in whatever order.
    for result in try pool.imapUnordered(tasks) {
        total += try result.get()
        done += 1
        print("\r  broker: \(done)/\(tasks.count) ranges counted", terminator: "")
        fflush(nil)
    }
    print("")
    return (total, ContinuousClock.now - start)
}

/// This program's path, to start it again as a worker.
private func ownExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    precondition(count > 0, "readlink /proc/self/exe failed")
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
