// weave-sync-micro: bounded measurements for issue 12's items 5, 7 and 17, one JSON line per run.
//
//   weave-sync-micro trap  [ROUNDS] [REPS]   yield ping-pong with trapsOnSuspendedAccess on, then
//                                            off, alternating, REPS times each (ns per yield, best)
//   weave-sync-micro trap-once on|off [ROUNDS]   one ping-pong run (for callgrind instruction counts)
//   weave-sync-micro threadpool-queue [N] [REPS] N jobs queued behind a blocked one-thread pool,
//                                            then drained: ns per job (best of REPS)
//   weave-sync-micro imap [N] [SIZE] [REPS]  Pool(size: SIZE).imap over N trivial items: items/s (best)
//
// Build in release: `swift build -c release --product weave-sync-micro` in Benchmarks/.
import Glibc
import Synchronization
import Weave
import BenchSupport

func argument(_ index: Int, default value: Int) -> Int {
    let args = CommandLine.arguments
    guard args.count > index, let parsed = Int(args[index]) else { return value }
    return parsed
}

func emit(_ text: String) {
    print(text)
}

func format(_ value: Double) -> String {
    String(Double(Int((value * 100).rounded())) / 100)
}

// MARK: - trap

/// Two coroutines yield to each other `rounds` times each; ns per yield.
func pingPong(rounds: Int, traps: Bool) throws -> Double {
    var configuration = Hub.Configuration()
    configuration.trapsOnSuspendedAccess = traps
    configuration.monitorsBlockedLoop = false
    return try Hub.run(configuration: configuration) {
        let body = { () throws -> Void in
            for _ in 0..<rounds { try Coroutine.yield() }
        }
        let a = try spawn(name: "ping", body)
        let b = try spawn(name: "pong", body)
        let t0 = nowNanos()
        try a.join()
        try b.join()
        return Double(nowNanos() - t0) / Double(2 * rounds)
    }
}

func benchTrap() throws {
    let rounds = argument(2, default: 5_000_000)
    let reps = argument(3, default: 5)
    _ = try pingPong(rounds: 10_000, traps: true)
    var best = (on: Double.infinity, off: Double.infinity)
    for _ in 0..<reps {
        best.on = min(best.on, try pingPong(rounds: rounds, traps: true))
        best.off = min(best.off, try pingPong(rounds: rounds, traps: false))
    }
    emit(#"{"bench":"trap","rounds":\#(rounds),"reps":\#(reps),"ns_per_yield_trap_on":\#(format(best.on)),"ns_per_yield_trap_off":\#(format(best.off)),"delta_ns":\#(format(best.on - best.off))}"#)
}

func benchTrapOnce() throws {
    let traps = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] == "on" : true
    let rounds = argument(3, default: 200_000)
    let ns = try pingPong(rounds: rounds, traps: traps)
    emit(#"{"bench":"trap-once","traps":\#(traps),"rounds":\#(rounds),"ns_per_yield":\#(format(ns))}"#)
}

// MARK: - threadpool-queue

/// Kept alive for the whole run: the pools of e7f90b4 cannot be dropped safely.
nonisolated(unsafe) var pools: [ThreadPool] = []

func drainTime(jobs: Int) throws -> Double {
    let pool = ThreadPool(threads: 1)
    pools.append(pool)
    let gate = Atomic<Bool>(false)
    let done = Atomic<Int>(0)
    try pool.submit { while !gate.load(ordering: .acquiring) { usleep(100) } }
    for _ in 0..<jobs { try pool.submit { done.add(1, ordering: .relaxed) } }
    let t0 = nowNanos()
    gate.store(true, ordering: .releasing)
    while done.load(ordering: .relaxed) < jobs { usleep(50) }
    return Double(nowNanos() - t0) / Double(jobs)
}

func benchThreadPoolQueue() throws {
    let jobs = argument(2, default: 20_000)
    let reps = argument(3, default: 3)
    var best = Double.infinity
    for _ in 0..<reps { best = min(best, try drainTime(jobs: jobs)) }
    emit(#"{"bench":"threadpool-queue","jobs":\#(jobs),"reps":\#(reps),"ns_per_job":\#(format(best)),"total_ms":\#(format(best * Double(jobs) / 1e6))}"#)
}

// MARK: - imap

func benchImap() throws {
    let n = argument(2, default: 200_000)
    let size = argument(3, default: 64)
    let reps = argument(4, default: 3)
    var best = 0.0
    for _ in 0..<reps {
        let rate = try Hub.run { () throws -> Double in
            let pool = Pool(size: size)
            let results = pool.imap(0..<n) { $0 &+ 1 }
            var sum = 0
            let t0 = nowNanos()
            while let value = try results.next() { sum &+= value }
            let elapsed = nowNanos() - t0
            if sum == 42 { print("") }
            return Double(n) / (Double(elapsed) / 1e9)
        }
        best = max(best, rate)
    }
    emit(#"{"bench":"imap","n":\#(n),"size":\#(size),"reps":\#(reps),"items_per_s":\#(Int(best))}"#)
}

switch CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "" {
case "trap": try benchTrap()
case "trap-once": try benchTrapOnce()
case "threadpool-queue": try benchThreadPoolQueue()
case "imap": try benchImap()
default:
    print("usage: weave-sync-micro trap|trap-once|threadpool-queue|imap [...]")
    exit(2)
}
