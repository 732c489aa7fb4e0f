// weave-procpool: ProcessPool overhead and CPU offload, the same cases as the peers'
// micro/procpool.py (multiprocessing.Pool(2)), one JSON line per case.
//
//   weave-procpool trivial [N] [CHUNK...]   Pool(2).map of N trivial tasks (x + 1): chunk sizes 1 and 64,
//                                           or those given
//   weave-procpool bitwise [N] [CHUNK...]   the same with a BitwiseProcessTask (sent as its bytes)
//   weave-procpool cpu             64 tasks counting primes below 200k: serial vs Pool(2)
//   weave-procpool latency [N]     one task at a time, N round trips: p50, p99
//
// Pool start-up is excluded from the timings, as in procpool.py. This program is its own
// worker: ProcessWorker.main(tasks:) comes first. Build: `swift build -c release --product weave-procpool`.
import Glibc
import Weave
import BenchSupport

struct Increment: ProcessTask {
    let value: Int
    func run() throws -> Int { value + 1 }
}

/// The same task as its bytes (no Codable pass on either side).
struct BitwiseIncrement: BitwiseProcessTask {
    let value: Int
    func run() throws -> Int { value + 1 }
}

struct CountPrimes: ProcessTask {
    let below: Int
    func run() throws -> Int { countPrimes(below: below) }
}

func countPrimes(below limit: Int) -> Int {
    var count = 0
    var candidate = 2
    while candidate < limit {
        var divisor = 2
        var isPrime = true
        while divisor * divisor <= candidate {
            if candidate % divisor == 0 { isPrime = false; break }
            divisor += 1
        }
        if isPrime { count += 1 }
        candidate += 1
    }
    return count
}

ProcessWorker.main(tasks: [Increment.self, BitwiseIncrement.self, CountPrimes.self])

func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// User and system CPU time of this process (the parent; workers are not counted).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
}

/// User and system CPU time of the given processes, from /proc (clock ticks: 10 ms).
func workersCPUSeconds(_ pids: [Int32]) -> Double {
    var total = 0.0
    for pid in pids {
        guard let file = fopen("/proc/\(pid)/stat", "r") else { continue }
        var buffer = [CChar](repeating: 0, count: 1024)
        if fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let close = line.lastIndex(of: ")") {
                // Fields after the command: state is field 3; utime and stime are 14 and 15.
                let fields = line[line.index(after: close)...].split(separator: " ")
                if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) {
                    total += (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
                }
            }
        }
        fclose(file)
    }
    return total
}

func quoted(_ text: String) -> String { "\"\(text)\"" }

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : "trivial"
let count = arguments.count > 2 ? Int(arguments[2]) ?? 20_000 : 20_000

try Hub.run {
    let pool = try ProcessPool(workers: 2)
    _ = try pool.map((0..<100).map(Increment.init))  // warm the workers
    switch mode {
    case "trivial", "bitwise":
        let chunkSizes = arguments.count > 3 ? arguments[3...].compactMap { Int($0) } : [1, 64]
        let bitwise = mode == "bitwise"
        for chunkSize in chunkSizes {
            let workersBefore = workersCPUSeconds(pool.workerPIDs)
            let cpuBefore = processCPUSeconds()
            let start = ContinuousClock.now
            let outputs = bitwise
                ? try pool.map((0..<count).map(BitwiseIncrement.init), chunkSize: chunkSize)
                : try pool.map((0..<count).map(Increment.init), chunkSize: chunkSize)
            let elapsed = seconds(since: start)
            let cpu = processCPUSeconds() - cpuBefore
            let workersCPU = workersCPUSeconds(pool.workerPIDs) - workersBefore
            precondition(outputs.last == count)
            // The parent's own CPU per task: steadier than the rate on a loaded machine.
            emit([("bench", quoted("procpool_trivial")), ("impl", quoted(bitwise ? "weave-ProcessPool(2)-bitwise" : "weave-ProcessPool(2)")), ("chunksize", "\(chunkSize)"),
                  ("n", "\(count)"), ("secs", fixed(elapsed, 4)), ("tasks_per_s", "\(Int(Double(count) / elapsed))"),
                  ("parent_cpu_us_per_task", fixed(cpu * 1e6 / Double(count), 3)),
                  ("workers_cpu_us_per_task", fixed(workersCPU * 1e6 / Double(count), 3))])
        }
    case "cpu":
        let tasks = [CountPrimes](repeating: CountPrimes(below: 200_000), count: 64)
        var start = ContinuousClock.now
        let serial = tasks.map { countPrimes(below: $0.below) }
        let serialSeconds = seconds(since: start)
        start = .now
        let parallel = try pool.map(tasks)
        let poolSeconds = seconds(since: start)
        precondition(parallel == serial && serial[0] == 17984)
        emit([("bench", quoted("procpool_cpu")), ("impl", quoted("weave-ProcessPool(2)")), ("n", "64"), ("prime_limit", "200000"),
              ("serial_secs", fixed(serialSeconds, 3)), ("pool_secs", fixed(poolSeconds, 3)),
              ("speedup", fixed(serialSeconds / poolSeconds, 2))])
    case "latency":
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for index in 0..<count {
            let start = ContinuousClock.now
            _ = try pool.apply(Increment(value: index))
            samples.append(seconds(since: start) * 1e6)
        }
        samples.sort()
        emit([("bench", quoted("procpool_latency")), ("impl", quoted("weave-ProcessPool(2)")), ("n", "\(count)"),
              ("p50_us", fixed(samples[samples.count / 2], 1)), ("p99_us", fixed(samples[samples.count * 99 / 100], 1))])
    default:
        print("usage: weave-procpool trivial|bitwise|cpu|latency [N]")
    }
    pool.close()
    try pool.join()
}
