import Glibc
import Weave
import WeaveDistributed

/// A prime count that also says where it ran: the worker's name (``workerNameVariable``,
/// set by whoever started the worker; else host and pid) and the network namespace of the
/// process that ran it, so a caller can see its tasks cross machines or namespaces.
struct CountPrimesServed: ProcessTask {
    let lower: Int
    let upper: Int

    /// Names the worker in the results; `cross-host.sh` sets it to the namespace and number.
    static let workerNameVariable = "PRIME_POOL_WORKER_NAME"

    struct Output: Codable, Sendable {
        var count: Int
        var worker: String
        /// `/proc/self/ns/net` of the process that counted: `net:[inode]`.
        var networkNamespace: String
    }

    func run() throws -> Output {
        let worker = getenv(Self.workerNameVariable).map { String(cString: $0) } ?? "\(hostName()):\(getpid())"
        return Output(count: try CountPrimes(lower: lower, upper: upper).run(), worker: worker,
                      networkNamespace: networkNamespace())
    }
}

/// `--remote-workers`: the prime counts on a DistributedPool only, served by workers
/// started elsewhere (`WEAVE_BROKER_URL=… WEAVE_BROKER_QUEUE=<queue> prime-pool`, on other
/// machines or in other network namespaces). Starts no worker and runs nothing itself;
/// prints how many ranges each worker served, from which network namespace, and the total.
func countOnRemoteWorkers(_ ranges: [CountPrimes], url: String, queue: String) throws {
    let pool = try DistributedPool(url: url, queue: queue)
    // The queue stays: it is the workers' as much as this run's.
    defer { pool.close() }
    let own = networkNamespace()
    print("  broker: queue '\(queue)', remote workers only; this caller's network namespace \(own)")
    let start = ContinuousClock.now
    var served: [String: (namespace: String, ranges: Int, primes: Int)] = [:]
    var total = 0
    var done = 0
    let tasks = ranges.map { CountPrimesServed(lower: $0.lower, upper: $0.upper) }
    for result in try pool.imapUnordered(tasks) {
        let output = try result.get()
        served[output.worker, default: (output.networkNamespace, 0, 0)].ranges += 1
        served[output.worker, default: (output.networkNamespace, 0, 0)].primes += output.count
        total += output.count
        done += 1
        print("\r  broker: \(done)/\(tasks.count) ranges counted", terminator: "")
        fflush(nil)  // the line has no newline: push it out now
    }
    let time = ContinuousClock.now - start
    print("")
    let nameWidth = max(6, served.keys.map(\.count).max() ?? 0)
    let namespaceWidth = max(17, served.values.map(\.namespace.count).max() ?? 0)
    print("")
    print("  \("worker".padding(nameWidth))  \("network namespace".padding(namespaceWidth))  ranges    primes")
    print("  \(String(repeating: "-", count: nameWidth))  \(String(repeating: "-", count: namespaceWidth))  ------  --------")
    for (name, row) in served.sorted(by: { $0.key < $1.key }) {
        let mark = row.namespace == own ? " (the caller's)" : ""
        print("  \(name.padding(nameWidth))  \(row.namespace.padding(namespaceWidth))  \(padded("\(row.ranges)", 6))  \(padded("\(row.primes)", 8))\(mark)")
    }
    print("  \("total".padding(nameWidth))  \("".padding(namespaceWidth))  \(padded("\(done)", 6))  \(padded("\(total)", 8))")
    print("")
    print("  \(total) primes below \(ranges.last?.upper ?? 0) in \(format(seconds(time), decimals: 3)) s on \(served.count) remote workers")
}

/// This process's network namespace as the kernel names it: `net:[inode]`.
private func networkNamespace() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = readlink("/proc/self/ns/net", &buffer, buffer.count - 1)
    guard count > 0 else { return "?" }
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "?" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
