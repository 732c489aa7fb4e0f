// weave-timers: how late and how fast a hub's timers wake coroutines. One JSON line per case,
// beside the Go program in Peers/go-timers (same cases, same shapes); compare-timers.sh runs
// both back to back.
//
//   weave-timers lateness [ROUNDS=200]   one coroutine on an idle hub sleeps 1, 2, 5, 10 and
//                                        2.5 ms, ROUNDS times each: lateness p50/p99/max, and
//                                        the earliest wake (negative = early)
//   weave-timers sleepers [N=100000]     N coroutines spawned at once, each sleeping 1..50 ms
//                                        (1 + i % 50): lateness p50/p99/max, and the time from
//                                        the first sleep to the last wake
//   weave-timers instant [N=100000]      N coroutines sleep until one instant (500 ms after
//                                        the start): time from that instant until the last has
//                                        woken and run, and wakes per second
//   (WEAVE_TIMERS_STACK_KIB=64 runs sleepers and instant on 64 KiB stacks; default 256 KiB)
//   weave-timers race [ROUNDS=20]        withTimeout(3 ms) { queue.get() } against a put due
//                                        at 2 ms: how often the value wins
//
// Build in release: `swift build -c release --product weave-timers` in Benchmarks/.
import Glibc
import Weave
import BenchSupport

func emit(_ fields: KeyValuePairs<String, String>) {
    let body = fields.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
    print("{\(body)}")
}

func text(_ s: String) -> String { "\"\(s)\"" }
func num(_ v: Double, _ decimals: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    return String((v * scale).rounded() / scale)
}

func argument(_ index: Int, default value: Int) -> Int {
    let args = CommandLine.arguments
    guard args.count > index else { return value }
    guard let parsed = Int(args[index]), parsed > 0 else {
        print("weave-timers: expected a positive number, got '\(args[index])'")
        exit(2)
    }
    return parsed
}

/// The `p` quantile of sorted nanoseconds, in microseconds.
func quantileMicros(_ sorted: [Int64], _ p: Double) -> Double {
    Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
}

// MARK: - lateness

func lateness() throws {
    let rounds = argument(2, default: 200)
    let durations: [(label: String, nanos: Int64)] = [("1", 1_000_000), ("2", 2_000_000), ("5", 5_000_000), ("10", 10_000_000), ("2.5", 2_500_000)]
    let results = try Hub.run { () throws -> [[Int64]] in
        var all: [[Int64]] = []
        for (_, nanos) in durations {
            var late: [Int64] = []
            late.reserveCapacity(rounds)
            for _ in 0..<rounds {
                let start = nowNanos()
                try Coroutine.sleep(for: .nanoseconds(nanos))
                late.append(Int64(nowNanos() - start) - nanos)
            }
            all.append(late.sorted())
        }
        return all
    }
    for (index, duration) in durations.enumerated() {
        let late = results[index]
        emit(["bench": text("lateness"), "impl": text("weave"), "sleep_ms": text(duration.label), "rounds": String(rounds),
              "late_p50_us": num(quantileMicros(late, 0.5)), "late_p99_us": num(quantileMicros(late, 0.99)),
              "late_max_us": num(Double(late.last!) / 1000), "earliest_us": num(Double(late.first!) / 1000)])
    }
}

// MARK: - sleepers

func sleepers() throws {
    let n = argument(2, default: 100_000)
    let late = UnsafeMutableBufferPointer<Int64>.allocate(capacity: n)
    let started = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
    let woke = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
    defer { late.deallocate(); started.deallocate(); woke.deallocate() }
    let spawnNanos = try Hub.run(configuration: configuration()) { () throws -> UInt64 in
        let group = WaitGroup()
        try group.add(n)
        let t0 = nowNanos()
        for i in 0..<n {
            try spawnDetached(with: (i, group)) { i, group in
                let ms = UInt64(1 + i % 50)
                let start = nowNanos()
                started[i] = start
                try Coroutine.sleep(for: .milliseconds(ms))
                let end = nowNanos()
                woke[i] = end
                late[i] = Int64(bitPattern: end &- (start + ms * 1_000_000))
                try group.done()
            }
        }
        let spawned = nowNanos() - t0
        try group.wait()
        return spawned
    }
    let sorted = late.sorted()
    let total = woke.max()! - started.min()!
    emit(["bench": text("sleepers"), "impl": text("weave"), "n": String(n), "sleep_ms": text("1..50"),
          "spawn_ms": num(Double(spawnNanos) / 1e6), "first_sleep_to_last_wake_ms": num(Double(total) / 1e6),
          "late_p50_us": num(quantileMicros(sorted, 0.5)), "late_p99_us": num(quantileMicros(sorted, 0.99)),
          "late_max_us": num(Double(sorted.last!) / 1000), "earliest_us": num(Double(sorted.first!) / 1000)])
}

/// The hub configuration: the default, or `WEAVE_TIMERS_STACK_KIB` KiB stacks.
func configuration() -> Hub.Configuration {
    var configuration = Hub.Configuration()
    if let text = getenv("WEAVE_TIMERS_STACK_KIB"), let kib = Int(String(cString: text)) { configuration.stackSize = kib * 1024 }
    return configuration
}

// MARK: - instant

final class Counter { var value = 0; var last: UInt64 = 0 }

func instant() throws {
    let n = argument(2, default: 100_000)
    let lead = UInt64(argument(3, default: 2000)) * 1_000_000
    let (spawnNanos, wakeNanos) = try Hub.run(configuration: configuration()) { () throws -> (UInt64, UInt64) in
        let group = WaitGroup()
        let counter = Counter()
        try group.add(n)
        let t0 = nowNanos()
        let instant = t0 + lead
        for _ in 0..<n {
            // Everything passed as the argument: the closure captures nothing, so a spawn
            // allocates nothing and a finish frees nothing (the wake-up is what is timed).
            try spawnDetached(with: (counter, group, instant, n)) { counter, group, instant, n in
                let now = nowNanos()
                if instant > now { try Coroutine.sleep(for: .nanoseconds(Int64(instant - now))) }
                counter.value += 1
                if counter.value == n { counter.last = nowNanos() }
                try group.done()
            }
        }
        let spawned = nowNanos() - t0
        try group.wait()
        guard spawned < lead else { print("weave-timers: spawning took longer than the lead time"); exit(1) }
        return (spawned, counter.last - instant)
    }
    emit(["bench": text("instant"), "impl": text("weave"), "n": String(n),
          "spawn_ms": num(Double(spawnNanos) / 1e6), "wake_all_ms": num(Double(wakeNanos) / 1e6),
          "ns_per_wake": num(Double(wakeNanos) / Double(n)), "wakes_per_s": num(Double(n) / (Double(wakeNanos) / 1e9), 0)])
}

// MARK: - race

func race() throws {
    let rounds = argument(2, default: 20)
    let wins = try Hub.run { () throws -> Int in
        var wins = 0
        for _ in 0..<rounds {
            let queue = Queue<Int>()
            let putAt = ContinuousClock.now + .milliseconds(2)
            let putter = try spawn { () throws -> Void in
                try Coroutine.sleep(until: putAt)
                try queue.put(1)
            }
            do {
                _ = try withTimeout(.milliseconds(3)) { try queue.get() }
                wins += 1
            } catch is TimeoutError {}
            try putter.join()
        }
        return wins
    }
    emit(["bench": text("race"), "impl": text("weave"), "rounds": String(rounds), "value_wins": String(wins)])
}

switch CommandLine.arguments.dropFirst().first ?? "" {
case "lateness": try lateness()
case "sleepers": try sleepers()
case "instant": try instant()
case "race": try race()
default:
    print("usage: weave-timers lateness|sleepers|instant|race [N]")
    exit(2)
}
