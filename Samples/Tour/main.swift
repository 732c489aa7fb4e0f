// tour: a guided run through Weave's core runtime, printed as a table.
// Run: swift run -c release tour   (or: make demo)
import Weave

/// CPU-bound work for the process-pool row: counts primes below `limit` by trial division.
struct CountPrimes: ProcessTask {
    let limit: Int
    func run() throws -> Int {
        var count = 0
        for candidate in 2..<max(2, limit) {
            var divisor = 2
            var isPrime = true
            while divisor * divisor <= candidate {
                if candidate % divisor == 0 { isPrime = false; break }
                divisor += 1
            }
            if isPrime { count += 1 }
        }
        return count
    }
}

// The tour is also its own process-pool worker: workers start here and never return.
ProcessWorker.main(tasks: [CountPrimes.self])

struct Row {
    let section: String
    let ran: String
    let result: String
    let elapsed: Duration
}

func measure(_ section: String, _ ran: String, _ body: () throws -> String) rethrows -> Row {
    let start = ContinuousClock.now
    let result = try body()
    return Row(section: section, ran: ran, result: result, elapsed: ContinuousClock.now - start)
}

func format(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let milliseconds = Double(seconds) * 1e3 + Double(attoseconds) / 1e15
    return milliseconds < 10 ? String(format2: milliseconds, decimals: 2) + " ms" : String(format2: milliseconds, decimals: 1) + " ms"
}

extension String {
    init(format2 value: Double, decimals: Int) {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = "\(rounded)"
        let fraction = text.split(separator: ".").last.map(String.init) ?? ""
        if fraction.count < decimals { text += String(repeating: "0", count: decimals - fraction.count) }
        self = text
    }

    func padded(_ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - count))
        return right ? padding + self : self + padding
    }
}

struct Failure: Error {}

/// A counter the coroutines of the hub share (one thread, so no locking).
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

let rows = try Hub.run { () throws -> [Row] in
    var rows: [Row] = []

    rows.append(try measure("spawn + join", "100,000 alive at once, each yields once") {
        var finished = 0
        var coroutines: [Coroutine<Void>] = []
        coroutines.reserveCapacity(100_000)
        for _ in 0..<100_000 {
            coroutines.append(try spawn { try Coroutine.yield(); finished += 1 })
        }
        try joinAll(coroutines)
        return "\(finished) finished"
    })

    rows.append(try measure("spawn + join", "100 x 1,000 coroutines (pooled stacks)") {
        var finished = 0
        var batch: [Coroutine<Void>] = []
        batch.reserveCapacity(1_000)
        for _ in 0..<100 {
            batch.removeAll(keepingCapacity: true)
            for _ in 0..<1_000 { batch.append(try spawn { try Coroutine.yield(); finished += 1 }) }
            try joinAll(batch)
        }
        return "\(finished) finished"
    })

    rows.append(try measure("spawnDetached", "100 x 1,000, no handles, a WaitGroup (Go's go)") {
        let finished = Box(0)
        let done = WaitGroup()
        for _ in 0..<100 {
            try done.add(1_000)
            for _ in 0..<1_000 {
                // The counter and the group travel as the argument: nothing is allocated.
                try spawnDetached(with: (finished, done)) { finished, done in
                    try Coroutine.yield()
                    finished.value += 1
                    try done.done()
                }
            }
            try done.wait()
        }
        return "\(finished.value) finished"
    })

    rows.append(try measure("yield", "2 coroutines x 500,000 yields") {
        var turns = 0
        let players = try (0..<2).map { _ in
            try spawn { for _ in 0..<500_000 { turns += 1; try Coroutine.yield() } }
        }
        try joinAll(players)
        return "\(turns) turns"
    })

    rows.append(try measure("sleep", "1,000 coroutines sleep 1..50 ms") {
        var overshoot = Duration.zero
        let sleepers = try (0..<1_000).map { index in
            try spawn {
                let wanted = Duration.milliseconds(1 + index % 50)
                let start = ContinuousClock.now
                try Coroutine.sleep(for: wanted)
                overshoot = max(overshoot, (ContinuousClock.now - start) - wanted)
            }
        }
        try joinAll(sleepers)
        return "max late " + format(overshoot)
    })

    rows.append(try measure("timeout", "withTimeout(20 ms) around sleep(1 s)") {
        do {
            try withTimeout(.milliseconds(20), operation: "slow call") { try Coroutine.sleep(for: .seconds(1)) }
            return "not fired?!"
        } catch let error as TimeoutError {
            return "TimeoutError: \(error.operation)"
        }
    })

    rows.append(try measure("cancellation", "cancel 1,000 sleeping coroutines") {
        var unwound = 0
        let sleepers = try (0..<1_000).map { _ in
            try spawn {
                defer { unwound += 1 }
                try Coroutine.sleep(for: .seconds(60))
            }
        }
        try Coroutine.yield()
        for sleeper in sleepers { sleeper.cancel() }
        try joinAll(sleepers)
        return "\(unwound) unwound (defer ran)"
    })

    rows.append(try measure("group", "10 children, child 3 fails") {
        var cancelled = 0
        do {
            try withCoroutineGroup { group in
                for index in 0..<10 {
                    try group.spawn(name: "child-\(index)") {
                        if index == 3 {
                            try Coroutine.sleep(for: .milliseconds(5))
                            throw Failure()
                        }
                        do { try Coroutine.sleep(for: .seconds(60)) } catch is CancellationError {
                            cancelled += 1
                            throw CancellationError()
                        }
                    }
                }
            }
            return "no error?!"
        } catch is Failure {
            return "rethrown, \(cancelled) siblings cancelled"
        }
    })

    rows.append(try measure("queue", "200,000 items, Queue(maxSize: 64), 2 x 2") {
        let queue = Queue<Int>(maxSize: 64)
        var sum = 0
        let consumers = try (0..<2).map { _ in try spawn { while true { sum &+= try queue.get(); try queue.taskDone() } } }
        let producers = try (0..<2).map { half in try spawn { for value in 0..<100_000 { try queue.put(half * 100_000 + value) } } }
        try joinAll(producers)
        try queue.join()
        for consumer in consumers { consumer.cancel() }
        return sum == 199_999 * 200_000 / 2 ? "all delivered" : "LOST ITEMS"
    })

    rows.append(try measure("channel", "100,000 ping-pong round trips") {
        let ping = Channel<Int>(), pong = Channel<Int>()
        let echo = try spawn { while let value = try ping.receive() { try pong.send(value) } }
        var last = 0
        for value in 0..<100_000 {
            try ping.send(value)
            last = try pong.receive() ?? -1
        }
        ping.close()
        try echo.join()
        return "last \(last)"
    })

    rows.append(try measure("pool map", "Pool(size: 100).map over 100,000 items") {
        let pool = Pool(size: 100)
        let squares = try pool.map(0..<100_000) { $0 * $0 }
        return "sum \(squares.reduce(0, &+))"
    })

    rows.append(try measure("lock", "1,000,000 uncontended acquire/release") {
        let lock = Lock()
        var held = 0
        for _ in 0..<1_000_000 { try lock.withLock { held += 1 } }
        return "\(held) times"
    })

    rows.append(try measure("tcp echo", "StreamServer + 1,000 clients x 10 lines") {
        let server = try StreamServer(port: 0, backlog: 2048) { connection in
            while let line = try connection.readLine() { try connection.write(line + "\n") }
        }
        try server.start()
        let port = server.localAddress!.port
        var answered = 0
        let clients = try (0..<1_000).map { index in
            try spawn(stackSize: 64 * 1024) {
                let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
                defer { connection.close() }
                for round in 0..<10 {
                    try connection.write("client \(index) line \(round)\n")
                    if try connection.readLine(timeout: .seconds(10)) == "client \(index) line \(round)" { answered += 1 }
                }
            }
        }
        try joinAll(clients)
        try server.stop()
        return "\(answered) echoes"
    })

    // CPU offload: the same 16 tasks serially on the hub, then on a pool of processes,
    // while a ticking coroutine shows the hub stays responsive during the pool run.
    let primeTasks = [CountPrimes](repeating: CountPrimes(limit: 150_000), count: 16)
    var serialTotal = 0
    rows.append(try measure("cpu offload", "16 prime counts, serially on the hub") {
        serialTotal = try primeTasks.reduce(0) { $0 + (try $1.run()) }
        return "\(serialTotal) primes"
    })
    rows.append(try measure("cpu offload", "the same on ProcessPool (cores), hub ticking") {
        let pool = try ProcessPool()
        defer { pool.terminate() }
        var ticks = 0
        let ticker = try spawn {
            while true {
                try Coroutine.sleep(for: .milliseconds(10))
                ticks += 1
            }
        }
        let total = try pool.map(primeTasks).reduce(0, +)
        ticker.cancel()
        guard total == serialTotal else { throw Failure() }
        return "\(total) primes, \(ticks) ticks meanwhile"
    })

    rows.append(try measure("locals", "CoroutineLocal inherited by a child") {
        let requestID = CoroutineLocal<String>(default: "none")
        return try requestID.withValue("r-42") { try spawn { requestID.value }.join() }
    })
    return rows
}

// A deadlock is reported, not a hang: two coroutines join each other.
var deadlockText = ""
let deadlockStart = ContinuousClock.now
do {
    try Hub.run {
        var pair: [Coroutine<Void>] = []
        pair.append(try spawn(name: "alice") { try pair[1].join() })
        pair.append(try spawn(name: "bob") { try pair[0].join() })
        try pair[0].join()
    }
} catch let error as DeadlockError {
    deadlockText = error.description
}
// Every core: a group of 4 hubs (4 threads) each counts the primes in its quarter of a range;
// hub 0's main coroutine parks on each Member.run while the hubs compute side by side.
let groupRow = try HubGroup.run(hubs: 4) { group in
    try measure("hub group", "4 hubs each count primes in a quarter of 400,000") {
        let quarter = 100_000
        let parts = try withCoroutineGroup { calls in
            try group.hubs.map { member in
                try calls.spawn { () throws -> (hub: Int, primes: Int) in
                    try member.run {
                        (HubGroup.currentHubIndex!, primeCount(in: member.index * quarter..<(member.index + 1) * quarter))
                    }
                }
            }.map { try $0.join() }
        }
        let total = parts.reduce(0) { $0 + $1.primes }
        guard total == (try CountPrimes(limit: 4 * quarter).run()) else { throw Failure() }
        return "\(total) primes, on hubs \(parts.map { String($0.hub) }.joined(separator: ","))"
    }
}

/// The primes in `range`, by trial division (the hub-group row's work).
func primeCount(in range: Range<Int>) -> Int {
    range.lazy.filter { candidate in
        guard candidate >= 2 else { return false }
        var divisor = 2
        while divisor * divisor <= candidate {
            if candidate % divisor == 0 { return false }
            divisor += 1
        }
        return true
    }.count
}

let allRows = rows + [groupRow, Row(section: "deadlock", ran: "alice and bob join each other",
                          result: "DeadlockError, \(deadlockText.split(separator: "\n").count - 1) waiters",
                          elapsed: ContinuousClock.now - deadlockStart)]

let widths = (
    max(7, allRows.map(\.section.count).max()!),
    max(8, allRows.map(\.ran.count).max()!),
    max(6, allRows.map(\.result.count).max()!)
)
print("Weave tour: coroutines, coordination and sockets on one hub (this thread)\n")
print("| \("section".padded(widths.0)) | \("what ran".padded(widths.1)) | \("result".padded(widths.2)) | \("time".padded(10, right: true)) |")
print("|\(String(repeating: "-", count: widths.0 + 2))|\(String(repeating: "-", count: widths.1 + 2))|\(String(repeating: "-", count: widths.2 + 2))|\(String(repeating: "-", count: 11)):|")
for row in allRows {
    print("| \(row.section.padded(widths.0)) | \(row.ran.padded(widths.1)) | \(row.result.padded(widths.2)) | \(format(row.elapsed).padded(10, right: true)) |")
}
print("\nThe deadlock report:\n\(deadlockText)")
