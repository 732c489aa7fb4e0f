// prime-pool: the classic multiprocessing `Pool(5)` + `apply_async(callback=)` example, grown up.
// Counts the primes below --limit in --tasks ranges, first serially in this process, then
// on a ProcessPool of --workers processes (this same program, re-run in worker mode),
// with a callback per finished range, a progress line while it runs, and the speed-up.
// With --broker, also on a DistributedPool over RabbitMQ, spread over --workers worker
// processes the program starts itself. With --broker and --remote-workers, only there, on
// workers started elsewhere (WEAVE_BROKER_URL=… WEAVE_BROKER_QUEUE=… prime-pool; see
// cross-host.sh, which puts them in network namespaces of their own).
//
//   swift run -c release prime-pool [--limit 3000000] [--tasks 64] [--workers CORES] [--broker amqp://guest:guest@127.0.0.1/]
//   swift run -c release prime-pool --broker amqp://… --remote-workers [--queue prime-pool]
import ArgumentParser
import Glibc
import SampleSupport
import Weave
import WeaveAMQP
import WeaveDistributed

/// Counts the primes in `lower..<upper` by trial division: CPU-bound on purpose.
struct CountPrimes: ProcessTask {
    let lower: Int
    let upper: Int

    func run() throws -> Int {
        var count = 0
        for candidate in max(2, lower)..<max(2, upper) where isPrime(candidate) { count += 1 }
        return count
    }
}

func isPrime(_ candidate: Int) -> Bool {
    var divisor = 2
    while divisor * divisor <= candidate {
        if candidate % divisor == 0 { return false }
        divisor += 1
    }
    return true
}

// Workers start here too, before any argument parsing (a worker's command line is not the
// user's): they serve tasks and never return from this call.
ProcessWorker.main(tasks: [CountPrimes.self, CountPrimesServed.self])
// With WEAVE_BROKER_URL set (--broker's workers), a DistributedPool's worker instead.
DistributedWorker.main(tasks: [CountPrimes.self, CountPrimesServed.self])

struct PrimePoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prime-pool",
        abstract: "Counts primes serially, then on a ProcessPool with a callback per task, and prints the speed-up.")

    @Option(help: "Count the primes below this number.")
    var limit = 3_000_000

    @Option(help: "How many ranges the count is split into.")
    var tasks = 64

    @Option(help: "Worker processes in the pool (default: one per online core).")
    var workers: Int?

    @Option(help: "Also count on a DistributedPool through this RabbitMQ broker (amqp://user:password@host:port/vhost), over --workers worker processes started here.")
    var broker: String?

    @Flag(help: "With --broker: count only there, on workers started elsewhere (WEAVE_BROKER_URL=<broker> WEAVE_BROKER_QUEUE=<queue> prime-pool); no serial run, no ProcessPool, no local workers. Prints which worker served how many ranges.")
    var remoteWorkers = false

    @Option(help: "With --remote-workers: the work queue the workers serve.")
    var queue = "prime-pool"

    func validate() throws {
        try require("--limit", limit, atLeast: 1)
        try require("--tasks", tasks, atLeast: 1)
        if let workers { try require("--workers", workers, atLeast: 1) }
        if let broker {
            do {
                _ = try AMQPConfiguration(url: broker)
            } catch {
                throw ValidationError("--broker: \(error)")
            }
        }
        if remoteWorkers && broker == nil { throw ValidationError("--remote-workers needs --broker") }
        if queue.isEmpty { throw ValidationError("--queue must not be empty") }
    }

    func run() throws {
        let workers = workers ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let step = (limit + tasks - 1) / tasks
        let ranges = stride(from: 0, to: limit, by: step).map { CountPrimes(lower: $0, upper: min(limit, $0 + step)) }
        if remoteWorkers, let broker {
            print("counting primes below \(limit) in \(ranges.count) tasks on remote workers")
            try Hub.run { try countOnRemoteWorkers(ranges, url: broker, queue: queue) }
            return
        }
        print("counting primes below \(limit) in \(ranges.count) tasks; \(workers) worker processes")
        try Hub.run { try compare(ranges, limit: limit, workers: workers, broker: broker) }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

func format(_ value: Double, decimals: Int = 2) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let fraction = String(scaled % Int(scale))
    return "\(scaled / Int(scale)).\(String(repeating: "0", count: decimals - fraction.count))\(fraction)"
}

func padded(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

/// Runs `tasks` serially, then on a pool of `workers` processes (and with a `broker`, on a
/// DistributedPool over as many worker processes), and prints the times.
func compare(_ tasks: [CountPrimes], limit: Int, workers: Int, broker: String?) throws {
    // Serial, in this process.
    var start = ContinuousClock.now
    let serialTotal = try tasks.reduce(0) { $0 + (try $1.run()) }
    let serialTime = ContinuousClock.now - start

    // The pool: submit with a callback per task, as multiprocessing's apply_async(callback=).
    let pool = try ProcessPool(workers: workers)
    var done = 0
    var poolTotal = 0
    start = .now
    let results = try tasks.map { task in
        try pool.submit(task, onSuccess: { count in
            done += 1
            poolTotal += count
        })
    }
    // A progress line, redrawn while the callbacks come in; the hub runs both.
    while done < tasks.count {
        let percent = done * 100 / tasks.count
        let bar = String(repeating: "#", count: percent / 4) + String(repeating: ".", count: 25 - percent / 4)
        print("\r  [\(bar)] \(padded("\(done)", 3))/\(tasks.count) tasks", terminator: "")
        fflush(nil)  // the line has no newline: push it out now
        try Coroutine.sleep(for: .milliseconds(50))
        if let failed = results.first(where: { $0.error != nil }), let error = failed.error { throw error }
    }
    let poolTime = ContinuousClock.now - start
    print("\r  [\(String(repeating: "#", count: 25))] \(tasks.count)/\(tasks.count) tasks")
    pool.close()
    try pool.join()

    guard serialTotal == poolTotal else {
        print("mismatch: serial \(serialTotal) vs pool \(poolTotal)")
        exit(1)
    }
    var rows = [
        ("serial (1 process)", seconds(serialTime), 1.0),
        ("ProcessPool(\(workers))", seconds(poolTime), seconds(serialTime) / seconds(poolTime)),
    ]
    if let broker {
        let (brokerTotal, brokerTime) = try countOnBroker(tasks, url: broker, workers: workers)
        guard serialTotal == brokerTotal else {
            print("mismatch: serial \(serialTotal) vs broker \(brokerTotal)")
            exit(1)
        }
        rows.append(("DistributedPool(\(workers))", seconds(brokerTime), seconds(serialTime) / seconds(brokerTime)))
    }
    print("")
    print("  run                      time (s)   speed-up")
    print("  -----------------------  --------   --------")
    for (name, time, speedup) in rows {
        print("  \(name.padding(23))  \(padded(format(time, decimals: 3), 8))   \(padded(format(speedup) + "x", 8))")
    }
    print("")
    print("  \(poolTotal) primes below \(limit)")
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

PrimePoolCommand.main()
