// weave-mysql: point selects by primary key from many coroutines, each on its own connection
// (as mysqlslap's --concurrency), one JSON line per mode; compare-mysql.sh runs it beside
// mysqlslap on the same server.
//
//   weave-mysql HOST PORT USER PASSWORD DATABASE [CONCURRENCY=64] [QUERIES=50000] [text|prepared|both] [HUBS=1]
//
// text:     `SELECT v FROM bench WHERE id = 17` through the text protocol (mysqlslap's query)
// prepared: `SELECT v FROM bench WHERE id = ?` with the id as a parameter (prepare, execute,
//           close per query)
// HUBS > 1 splits the connections over a HubGroup of that many hubs (threads), as mysqlslap
// splits them over CONCURRENCY threads; the clock runs from when every hub has connected.
// The table `bench (id INT PRIMARY KEY, v VARCHAR(32))` must exist with ids 1...1000.
// Build in release: `swift build -c release --product weave-mysql` in Benchmarks/.
import Glibc
import Weave
import WeaveMySQL


let arguments = CommandLine.arguments
guard arguments.count >= 6 else {
    print("usage: weave-mysql HOST PORT USER PASSWORD DATABASE [CONCURRENCY=64] [QUERIES=50000] [text|prepared|both]")
    exit(64)
}
let configuration = MySQLConfiguration(
    host: arguments[1], port: Int(arguments[2]) ?? 3306, user: arguments[3], password: arguments[4],
    database: arguments[5])
let concurrency = arguments.count > 6 ? Int(arguments[6]) ?? 64 : 64
let queries = arguments.count > 7 ? Int(arguments[7]) ?? 50_000 : 50_000
let modes = arguments.count > 8 && arguments[8] != "both" ? [arguments[8]] : ["text", "prepared"]

let hubs = arguments.count > 9 ? max(1, Int(arguments[9]) ?? 1) : 1

do {
    let perCoroutine = queries / concurrency
    if hubs == 1 {
        try Hub.run {
            for mode in modes {
                // Connections first, as mysqlslap connects before it starts its clock.
                let connections = try (0..<concurrency).map { _ in try MySQLConnection.connect(configuration) }
                defer { connections.forEach { $0.close() } }
                let start = nowNanos()
                let found = try drive(connections, first: 0, mode: mode, perCoroutine: perCoroutine)
                report(mode, found: found, seconds: Double(nowNanos() - start) / 1e9, perCoroutine: perCoroutine, concurrency: concurrency, hubs: 1)
            }
        }
    } else {
        try HubGroup.run(hubs: hubs) { group in
            for mode in modes {
                let line = StartLine()
                let spans = try (0..<hubs).map { hub in
                    try spawn { () throws -> (found: Int, start: UInt64, end: UInt64) in
                        try group.hub(hub).run { () throws -> (found: Int, start: UInt64, end: UInt64) in
                            let first = hub * concurrency / hubs
                            let mine = (hub + 1) * concurrency / hubs - first
                            let connections = try (0..<mine).map { _ in try MySQLConnection.connect(configuration) }
                            defer { connections.forEach { $0.close() } }
                            line.ready.add(1, ordering: .acquiringAndReleasing)
                            while line.ready.load(ordering: .acquiring) < hubs { try Coroutine.sleep(for: .microseconds(100)) }
                            let start = nowNanos()
                            let found = try drive(connections, first: first, mode: mode, perCoroutine: perCoroutine)
                            return (found, start, nowNanos())
                        }
                    }
                }.map { try $0.join() }
                let seconds = Double(spans.map(\.end).max()! - spans.map(\.start).min()!) / 1e9
                report(mode, found: spans.reduce(0) { $0 + $1.found }, seconds: seconds, perCoroutine: perCoroutine,
                       concurrency: concurrency, hubs: hubs)
            }
        }
    }
} catch {
    print("weave-mysql: \(error)")
    exit(1)
}
