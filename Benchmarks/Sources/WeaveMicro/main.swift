// weave-micro: Weave's micro benchmarks, one JSON line per case, in the same shape as the peer
// programs in Benchmarks/Peers (go-micro, c-switch, greenlet_switch.py), so compare-micro.sh can
// run them back to back with the peers and put them in one table.
//
//   weave-micro switch [ROUNDS]        raw asm switch, asm + exclusivity swap, yield ping-pong
//   weave-micro spawn  [N] [BATCH]     spawn + yield once + join, BATCH at a time until N
//                                      (handles + joinAll, then detached + WaitGroup rows)
//   weave-micro spawn-detached [N] [BATCH] [closure|args]   the detached rows only
//   (a fourth argument, handles|closure|args, runs one row)
//                                      (without BATCH: BATCH=1000, then all at once, BATCH=N)
//   weave-micro idle   [N] [STACK]     N coroutines parked on a long sleep: RSS, VmPTE, mappings
//   weave-micro timers [N]             N coroutines sleeping 1..50 ms: time until all woke
//   weave-micro bridge [N]             awaitAsync round trips (coroutine -> Task -> coroutine): p50, p99
//
// WEAVE_MICRO_MONITOR=on|off turns the blocked-loop monitor on or off in every hub these
// benchmarks start (default: the release default, off), to compare instruction counts.
//
// Build in release: `swift build -c release --product weave-micro` in Benchmarks/.
@_spi(Benchmarks) import Weave
import Glibc
import BenchSupport

// MARK: - Helpers

/// A JSON value, printed without Foundation.
enum J {
    case int(Int)
    case num(Double, Int)  // value, decimals
    case str(String)
    case bool(Bool)

    var text: String {
        switch self {
        case .int(let v): return String(v)
        case .bool(let v): return v ? "true" : "false"
        case .str(let s):
            var out = "\""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(ch)
                }
            }
            return out + "\""
        case .num(let v, let decimals):
            guard v.isFinite else { return "null" }
            return fixed(v, decimals)
        }
    }
}

/// `v` with exactly `decimals` digits after the point (no exponent notation).
func fixed(_ v: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(v) * scale).rounded()
    let whole = Int(scaled / scale)
    let frac = Int(scaled - Double(whole) * scale)
    var text = (v < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let digits = String(frac)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return text
}

/// Writes `text` straight to a file descriptor (unbuffered: lines appear at once, in order).
func writeLine(_ fd: Int32, _ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}

func emit(_ fields: KeyValuePairs<String, J>) {
    let body = fields.map { "\"\($0.key)\":\($0.value.text)" }.joined(separator: ",")
    writeLine(1, "{\(body)}")
}

func argument(_ index: Int, default value: Int) -> Int {
    let args = CommandLine.arguments
    guard args.count > index else { return value }
    guard let parsed = parseCount(args[index]), parsed > 0 else {
        writeLine(2, "weave-micro: expected a positive number, got '\(args[index])'")
        exit(2)
    }
    return parsed
}

/// Accepts `1000000`, `1_000_000`, and sizes with a `k` (KiB) or `m` (MiB) suffix: `64k`, `1m`.
func parseCount(_ text: String) -> Int? {
    var digits = text.replacingOccurrences(of: "_", with: "")
    var multiplier = 1
    if let last = digits.last, "kKmM".contains(last) {
        multiplier = (last == "k" || last == "K") ? 1024 : 1024 * 1024
        digits.removeLast()
    }
    return Int(digits).map { $0 * multiplier }
}

extension String {
    func replacingOccurrences(of target: Character, with replacement: String) -> String {
        var out = ""
        for ch in self { if ch == target { out += replacement } else { out.append(ch) } }
        return out
    }
}

let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

func readFile(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var out = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        out.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Resident bytes (second field of /proc/self/statm, in pages).
func residentBytes() -> Int {
    let fields = readFile("/proc/self/statm").split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * pageSize
}

/// A `kB` line of /proc/self/status (VmPTE, VmHWM, ...), in bytes.
func statusBytes(_ key: String) -> Int {
    for line in readFile("/proc/self/status").split(separator: "\n") where line.hasPrefix(key + ":") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        if parts.count >= 2, let kb = Int(parts[1].trimmingTabs()) { return kb * 1024 }
    }
    return 0
}

extension Substring {
    func trimmingTabs() -> Substring {
        var s = self
        while let f = s.first, f == "\t" || f == " " { s.removeFirst() }
        return s
    }
}

func mappingCount() -> Int {
    readFile("/proc/self/maps").reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
}

func maxMapCount() -> Int {
    Int(readFile("/proc/sys/vm/max_map_count").split(separator: "\n").first ?? "") ?? 0
}

func fail(_ message: String) -> Never {
    writeLine(2, "weave-micro: \(message)")
    exit(1)
}

/// The hub configuration every benchmark starts from.
func baseConfiguration() -> Hub.Configuration {
    var configuration = Hub.Configuration()
    if let value = getenv("WEAVE_MICRO_MONITOR").map({ String(cString: $0) }) {
        configuration.monitorsBlockedLoop = value == "on"
    }
    return configuration
}

// MARK: - switch

/// Two coroutines yield to each other `rounds` times each, through the hub's run queue
/// (no direct hand-off): every yield puts the caller at the back of the queue and switches
/// to the other one. Returns (ns per yield, context switches per yield).
func yieldPingPong(rounds: Int) throws -> (Double, Double) {
    try Hub.run(configuration: baseConfiguration()) {
        let hub = Hub.current!
        let body = { () throws -> Void in
            for _ in 0..<rounds { try Coroutine.yield() }
        }
        let a = try spawn(name: "ping", body)
        let b = try spawn(name: "pong", body)
        let switches0 = hub.switchCount
        let t0 = nowNanos()
        try a.join()
        try b.join()
        let elapsed = nowNanos() - t0
        let switches = hub.switchCount - switches0
        let yields = Double(2 * rounds)
        return (Double(elapsed) / yields, Double(switches) / yields)
    }
}

func benchSwitch() throws {
    let rounds = argument(2, default: 20_000_000)
    // Warm up caches and the lazy dlsym of the exclusivity hooks.
    _ = SwitchBenchmark.nanosecondsPerSwitch(rounds: 10_000, swapExclusivity: true)
    let raw = SwitchBenchmark.nanosecondsPerSwitch(rounds: rounds, swapExclusivity: false)
    emit(["bench": .str("switch"), "impl": .str("weave-asm"), "rounds": .int(rounds),
          "ns_per_switch": .num(raw, 2),
          "note": .str("raw weave_context_switch, hub<->fiber, no exclusivity swap")])
    let swapped = SwitchBenchmark.nanosecondsPerSwitch(rounds: rounds, swapExclusivity: true)
    emit(["bench": .str("switch"), "impl": .str("weave-asm+swap"), "rounds": .int(rounds),
          "ns_per_switch": .num(swapped, 2), "swap_ns": .num(swapped - raw, 2),
          "note": .str("hub<->fiber with the exclusivity swap's runtime call on every switch")])
    let skipped = SwitchBenchmark.nanosecondsPerSwitch(rounds: rounds, swapExclusivity: true, skippingEmptySwap: true)
    emit(["bench": .str("switch"), "impl": .str("weave-asm+swap-check"), "rounds": .int(rounds),
          "ns_per_switch": .num(skipped, 2), "swap_ns": .num(skipped - raw, 2),
          "note": .str("as hubs switch: the swap's runtime calls skipped while no exclusive access is open (one load)")])
    // The scheduler path: fewer rounds, it is several times slower than the bare switch.
    let yieldRounds = max(1, rounds / 4)
    _ = try yieldPingPong(rounds: 10_000)
    let (nsPerYield, switchesPerYield) = try yieldPingPong(rounds: yieldRounds)
    emit(["bench": .str("switch"), "impl": .str("weave-yield"), "rounds": .int(yieldRounds),
          "ns_per_switch": .num(nsPerYield, 2), "switches_per_yield": .num(switchesPerYield, 4),
          "handoff": .str("run-queue"),
          "note": .str("two coroutines, Coroutine.yield() through the run queue, swap on (exit+enter per switch), libuv polled every 256 dispatches")])
}

// MARK: - spawn

/// How a spawn case starts its coroutines.
enum SpawnVariant: String, CaseIterable {
    /// `spawn` + `joinAll` of the handles (gevent's shape).
    case handles
    /// `spawnDetached` + a `WaitGroup`, the closure capturing counter and group (Go's code).
    case closure
    /// `spawnDetached(with: (counter, group))` + a `WaitGroup`: nothing allocated per spawn.
    case args

    var implPrefix: String {
        switch self {
        case .handles: return "weave-coroutine"
        case .closure: return "weave-detached"
        case .args: return "weave-detached-args"
        }
    }
}

/// spawn + run + finish: `batch` coroutines, each yields once and bumps a counter, then
/// they are joined; repeated until `n` have run. Default hub configuration (256 KiB stacks,
/// pooled).
func spawnBatches(n: Int, batch: Int, _ variant: SpawnVariant) throws -> (secs: Double, switchesPerTask: Double, rssGrowth: Int) {
    let counter = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    counter.initialize(to: 0)
    defer { counter.deallocate() }
    let rss0 = residentBytes()
    let (elapsed, switches) = try Hub.run(configuration: baseConfiguration()) { () throws -> (UInt64, UInt64) in
        let hub = Hub.current!
        var handles: [AnyCoroutine] = []
        handles.reserveCapacity(variant == .handles ? min(batch, n) : 0)
        let group = WaitGroup()
        let switches0 = hub.switchCount
        let t0 = nowNanos()
        var done = 0
        while done < n {
            let k = min(batch, n - done)
            switch variant {
            case .handles:
                for _ in 0..<k {
                    handles.append(try spawn { () throws -> Void in
                        try Coroutine.yield()
                        counter.pointee += 1
                    })
                }
                try joinAll(handles)
                handles.removeAll(keepingCapacity: true)
            case .closure:
                try group.add(k)
                for _ in 0..<k {
                    try spawnDetached {
                        try Coroutine.yield()
                        counter.pointee += 1
                        try group.done()
                    }
                }
                try group.wait()
            case .args:
                try group.add(k)
                for _ in 0..<k {
                    try spawnDetached(with: (counter, group)) { counter, group in
                        try Coroutine.yield()
                        counter.pointee += 1
                        try group.done()
                    }
                }
                try group.wait()
            }
            done += k
        }
        return (nowNanos() - t0, hub.switchCount - switches0)
    }
    guard counter.pointee == n else { fail("lost coroutines: \(counter.pointee) of \(n) ran") }
    return (Double(elapsed) / 1e9, Double(switches) / Double(n), statusBytes("VmHWM") - rss0)
}

/// `spawn [N] [BATCH] [handles|closure|args]`; `spawn-detached` leaves out the handles.
func benchSpawn(handles: Bool = true) throws {
    let n = argument(2, default: 1_000_000)
    // With BATCH given, that shape only; without, batches of 1,000 (like Go's
    // go-spawn-batched) and then all at once (BATCH = N, like the peers' go_spawn).
    let shapes = CommandLine.arguments.count > 3 ? [min(argument(3, default: 1000), n)] : [min(1000, n), n]
    let only = CommandLine.arguments.count > 4 ? SpawnVariant(rawValue: CommandLine.arguments[4]) : nil
    let variants = SpawnVariant.allCases.filter { (handles || $0 != .handles) && (only == nil || only == $0) }
    for shape in Set(shapes).sorted() {
        for variant in variants {
            let r = try spawnBatches(n: n, batch: shape, variant)
            emit(["bench": .str("spawn"), "impl": .str(variant.implPrefix + (shape == n ? "-all-at-once" : "-batched")),
                  "n": .int(n), "batch": .int(shape), "stack_kib": .int(Hub.Configuration().stackSize / 1024),
                  "secs": .num(r.secs, 3), "tasks_per_s": .num(Double(n) / r.secs, 0),
                  "switches_per_task": .num(r.switchesPerTask, 2),
                  "peak_rss_growth_kb": .int(r.rssGrowth / 1024)])
        }
    }
}

// MARK: - idle

func benchIdle() throws {
    let n = argument(2, default: 1_000_000)
    let stack = argument(3, default: 64 * 1024)
    var configuration = Hub.Configuration()
    configuration.stackSize = stack
    let started = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    started.initialize(to: 0)
    defer { started.deallocate() }
    try Hub.run(configuration: configuration) {
        let hub = Hub.current!
        let rss0 = residentBytes()
        let pte0 = statusBytes("VmPTE")
        let maps0 = mappingCount()
        let t0 = nowNanos()
        for _ in 0..<n {
            try spawn { () throws -> Void in
                started.pointee += 1
                try Coroutine.sleep(for: .seconds(3600))
            }
        }
        // The main coroutine is queued behind all of them: once it runs again, every one has
        // run up to its sleep and parked.
        while started.pointee < n { try Coroutine.yield() }
        let parkedSecs = Double(nowNanos() - t0) / 1e9
        let rss1 = residentBytes()
        let pte1 = statusBytes("VmPTE")
        let maps1 = mappingCount()
        guard hub.aliveCount >= n else { fail("only \(hub.aliveCount) coroutines alive") }
        emit(["bench": .str("idle"), "impl": .str("weave-coroutine"), "n": .int(n), "stack_kib": .int(stack / 1024),
              "guard": .str(hub.usesMprotectGuards ? "mprotect" : "MADV_GUARD_INSTALL"),
              "rss_before_kb": .int(rss0 / 1024), "rss_blocked_kb": .int(rss1 / 1024),
              "bytes_per_task": .int((rss1 - rss0) / n),
              "pte_kb": .int(pte1 / 1024), "pte_bytes_per_task": .int((pte1 - pte0) / n),
              "bytes_per_task_incl_pte": .int((rss1 - rss0 + pte1 - pte0) / n),
              "mappings_before": .int(maps0), "mappings": .int(maps1), "max_map_count": .int(maxMapCount()),
              "secs": .num(parkedSecs, 3)])
        // Returning cancels and unwinds every sleeper (Hub.run's shutdown).
    }
}

// MARK: - timers

func benchTimers() throws {
    let n = argument(2, default: 100_000)
    let late = UnsafeMutableBufferPointer<Int64>.allocate(capacity: n)
    late.initialize(repeating: 0)
    defer { late.deallocate() }
    let (spawnSecs, totalSecs) = try Hub.run { () throws -> (Double, Double) in
        // Every sleeper starts right after the spawning ends (the main coroutine parks in
        // joinAll), so the wait after spawning cannot be shorter than the longest sleep, 50 ms.
        var handles: [AnyCoroutine] = []
        handles.reserveCapacity(n)
        let t0 = nowNanos()
        for i in 0..<n {
            let ms = 1 + i % 50
            handles.append(try spawn { () throws -> Void in
                let deadline = nowNanos() + UInt64(ms) * 1_000_000
                try Coroutine.sleep(for: .milliseconds(ms))
                late[i] = Int64(bitPattern: nowNanos() &- deadline)
            })
        }
        let t1 = nowNanos()
        try joinAll(handles)
        let t2 = nowNanos()
        return (Double(t1 - t0) / 1e9, Double(t2 - t0) / 1e9)
    }
    let sorted = late.sorted()
    if sorted.first! < 0 { fail("a sleeper woke \(-sorted.first!) ns early") }
    func pct(_ p: Double) -> Double { Double(sorted[min(n - 1, Int(Double(n) * p))]) / 1000 }
    emit(["bench": .str("timers"), "impl": .str("weave-coroutine"), "n": .int(n),
          "sleep_ms": .str("1..50"), "stack_kib": .int(Hub.Configuration().stackSize / 1024),
          "spawn_secs": .num(spawnSecs, 3), "secs": .num(totalSecs, 3),
          "wait_after_spawn_ms": .num((totalSecs - spawnSecs) * 1000, 1),
          "overshoot_ms": .num((totalSecs - spawnSecs - 0.050) * 1000, 1),
          "late_p50_us": .num(pct(0.5), 0), "late_p99_us": .num(pct(0.99), 0), "late_max_us": .num(Double(sorted.last!) / 1000, 0)])
}

// MARK: - coordination

/// Channel ping-pong, uncontended Lock and Semaphore, and Queue put+get between two coroutines.
func benchCoordination() throws {
    let rounds = argument(2, default: 1_000_000)
    try Hub.run {
        try channelPingPong(rounds: rounds)
        var t0: UInt64, elapsed: UInt64

        let lock = Lock()
        t0 = nowNanos()
        for _ in 0..<(rounds * 10) { try lock.acquire(); try lock.release() }
        elapsed = nowNanos() - t0
        emit(["bench": .str("lock"), "impl": .str("weave-lock"), "ops": .int(rounds * 10),
              "ns_per_acquire_release": .num(Double(elapsed) / Double(rounds * 10), 2)])
        let semaphore = Semaphore(value: 1)
        t0 = nowNanos()
        for _ in 0..<(rounds * 10) { try semaphore.acquire(); try semaphore.release() }
        elapsed = nowNanos() - t0
        emit(["bench": .str("lock"), "impl": .str("weave-semaphore"), "ops": .int(rounds * 10),
              "ns_per_acquire_release": .num(Double(elapsed) / Double(rounds * 10), 2)])

        let queue = Queue<Int>()
        var received = 0
        let consumer = try spawn { for _ in 0..<rounds { received &+= try queue.get() } }
        t0 = nowNanos()
        for value in 0..<rounds { try queue.put(value); if value % 64 == 63 { try Coroutine.yield() } }
        try consumer.join()
        elapsed = nowNanos() - t0
        let mapItems = 100_000
        let pool = Pool(size: 100)
        _ = try pool.map(0..<1_000) { $0 + 1 }
        t0 = nowNanos()
        let mapped = try pool.map(0..<mapItems) { $0 + 1 }
        let mapElapsed = nowNanos() - t0
        guard mapped.last == mapItems else { fail("Pool.map returned a wrong result") }
        emit(["bench": .str("poolmap"), "impl": .str("weave-pool"), "items": .int(mapItems), "size": .int(100),
              "ns_per_item": .num(Double(mapElapsed) / Double(mapItems), 2)])
        emit(["bench": .str("queue"), "impl": .str("weave-queue"), "items": .int(rounds),
              "ns_per_item": .num(Double(elapsed) / Double(rounds), 2),
              "note": .str("Queue<Int> put by one coroutine, get by another (producer yields every 64 puts)")])
    }
}

/// Only the unbuffered channel ping-pong of `coordination` (for profiling it alone).
func benchChannel() throws {
    let rounds = argument(2, default: 1_000_000)
    try Hub.run { try channelPingPong(rounds: rounds) }
}

/// Two coroutines bounce an Int over two unbuffered channels `rounds` times (after a
/// warm-up); one round trip is two switches, as in Go's peer.
func channelPingPong(rounds: Int) throws {
    let ping = Channel<Int>(), pong = Channel<Int>()
    let echo = try spawn { while let value = try ping.receive() { try pong.send(value) } }
    for value in 0..<10_000 { try ping.send(value); _ = try pong.receive() }
    let t0 = nowNanos()
    for value in 0..<rounds { try ping.send(value); _ = try pong.receive() }
    let elapsed = nowNanos() - t0
    ping.close()
    try echo.join()
    emit(["bench": .str("switch"), "impl": .str("weave-channel"), "rounds": .int(rounds),
          "ns_per_switch": .num(Double(elapsed) / Double(2 * rounds), 2),
          "note": .str("unbuffered Channel<Int> ping-pong, two coroutines, one round trip = 2 switches (Go's shape)")])
}

// MARK: - main

// MARK: - bridge

/// A coroutine awaits a trivial Swift Task `n` times (awaitAsync: Task.detached, result back
/// through the hub's cross-thread queue and uv_async). Reports the round-trip percentiles.
func benchBridge() throws {
    let n = argument(2, default: 20_000)
    let samples = try Hub.run(configuration: baseConfiguration()) { () throws -> [UInt64] in
        for _ in 0..<1000 { _ = try awaitAsync { 1 } }
        var samples: [UInt64] = []
        samples.reserveCapacity(n)
        for index in 0..<n {
            let t0 = nowNanos()
            let value = try awaitAsync { index }
            samples.append(nowNanos() - t0)
            guard value == index else { fail("awaitAsync returned \(value), expected \(index)") }
        }
        return samples.sorted()
    }
    func percentile(_ p: Double) -> Double { Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1000 }
    emit(["bench": .str("bridge"), "impl": .str("weave-awaitAsync"), "n": .int(n),
          "p50_us": .num(percentile(0.5), 2), "p99_us": .num(percentile(0.99), 2),
          "note": .str("coroutine -> Task.detached -> RemoteQueue/uv_async -> coroutine, one at a time")])
}

let usage = """
usage: weave-micro switch [ROUNDS]     (default 20000000)
       weave-micro spawn  [N] [BATCH]  (default 1000000; no BATCH: both 1000 and N)
       weave-micro spawn-detached [N] [BATCH] [closure|args]
       weave-micro idle   [N] [STACK]  (default 1000000 64k)
       weave-micro timers [N]          (default 100000)
       weave-micro coordination [N]    (default 1000000)
       weave-micro channel [N]         (default 1000000; the channel ping-pong alone)
       weave-micro bridge [N]          (default 20000)
"""

do {
    switch CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "" {
    case "switch": try benchSwitch()
    case "spawn": try benchSpawn()
    case "spawn-detached": try benchSpawn(handles: false)
    case "idle": try benchIdle()
    case "timers": try benchTimers()
    case "coordination": try benchCoordination()
    case "channel": try benchChannel()
    case "bridge": try benchBridge()
    default:
        writeLine(2, usage)
        exit(2)
    }
} catch {
    fail("\(error)")
}
