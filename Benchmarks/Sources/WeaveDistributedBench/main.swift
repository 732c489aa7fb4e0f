// weave-distributed: DistributedPool through a RabbitMQ broker, the same cases as the peer
// Peers/celery_bench.py (Celery, prefork), one JSON line per run.
//
//   weave-distributed URL QUEUE throughput N   a map of N trivial tasks (x + 1), one message each
//   weave-distributed URL QUEUE latency N      one task at a time, N round trips: p50, p99
//
// The workers are this program again in worker mode (DistributedWorker.main(tasks:), selected
// by WEAVE_BROKER_URL and WEAVE_BROKER_QUEUE; compare-distributed.sh starts them). A warm-up
// map that every worker must have answered runs outside the timing, as in the peer.
// Build: `swift build -c release --product weave-distributed`.
import Glibc
import Weave
import WeaveDistributed
import BenchSupport

struct Increment: ProcessTask {
    let value: Int
    func run() throws -> Int { value + 1 }
}

/// Says which worker process ran it (the warm-up waits until each one has answered).
struct WorkerPID: ProcessTask {
    let round: Int
    func run() throws -> Int32 { getpid() }
}

DistributedWorker.main(tasks: [Increment.self, WorkerPID.self])

let arguments = CommandLine.arguments
guard arguments.count == 5, ["throughput", "latency"].contains(arguments[3]), let count = Int(arguments[4]), count > 0 else {
    var usage = "usage: weave-distributed URL QUEUE throughput|latency N  (worker mode: WEAVE_BROKER_URL, WEAVE_BROKER_QUEUE)\n"
    usage.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(64)
}
let url = arguments[1], queue = arguments[2], mode = arguments[3]
let workers = getenv("WORKERS").flatMap { Int(String(cString: $0)) } ?? 2

func seconds(_ elapsed: Duration) -> Double {
    Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

try Hub.run {
    let pool = try DistributedPool(url: url, queue: queue)
    defer { pool.close() }
    // Warm up until every worker has answered (they may still be connecting).
    var seen: Set<Int32> = []
    var round = 0
    while seen.count < workers {
        round += 1
        precondition(round <= 200, "only \(seen.count) of \(workers) workers answered")
        seen.formUnion(try pool.map((0..<(20 * workers)).map { _ in WorkerPID(round: round) }, timeout: .seconds(60)))
    }
    _ = try pool.map((0..<200).map(Increment.init))
    switch mode {
    case "throughput":
        let tasks = (0..<count).map(Increment.init)
        let start = ContinuousClock.now
        let outputs = try pool.map(tasks)
        let elapsed = seconds(.now - start)
        precondition(outputs.count == count && outputs.last == count)
        emit([("bench", "\"distributed_throughput\""), ("impl", "\"weave-DistributedPool\""), ("n", "\(count)"),
              ("secs", fixed(elapsed, 4)), ("tasks_per_s", "\(Int(Double(count) / elapsed))")])
    default:
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for value in 0..<count {
            let start = ContinuousClock.now
            let output = try pool.apply(Increment(value: value))
            samples.append(seconds(.now - start) * 1e6)
            precondition(output == value + 1)
        }
        samples.sort()
        let p50 = samples[samples.count / 2]
        let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
        emit([("bench", "\"distributed_latency\""), ("impl", "\"weave-DistributedPool\""), ("n", "\(count)"),
              ("p50_us", fixed(p50, 1)), ("p99_us", fixed(p99, 1))])
    }
}
