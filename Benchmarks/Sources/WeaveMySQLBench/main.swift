// weave-mysql: point selects by primary key from many coroutines, each on its own connection
// (as mysqlslap's --concurrency), one JSON line per mode; compare-mysql.sh runs it beside
// mysqlslap on the same server.
//
//   weave-mysql HOST PORT USER PASSWORD DATABASE [CONCURRENCY=64] [QUERIES=50000] [text|prepared|both]
//
// text:     `SELECT v FROM bench WHERE id = 17` through the text protocol (mysqlslap's query)
// prepared: `SELECT v FROM bench WHERE id = ?` with the id as a parameter (prepare, execute,
//           close per query)
// The table `bench (id INT PRIMARY KEY, v VARCHAR(32))` must exist with ids 1...1000.
// Build in release: `swift build -c release --product weave-mysql` in Benchmarks/.
import Glibc
import Weave
import WeaveMySQL

func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

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

do {
    try Hub.run {
        for mode in modes {
            // Connections first, as mysqlslap connects before it starts its clock.
            let connections = try (0..<concurrency).map { _ in try MySQLConnection.connect(configuration) }
            defer { connections.forEach { $0.close() } }
            let perCoroutine = queries / concurrency
            let start = nowNanos()
            let workers = try connections.enumerated().map { index, connection in
                try spawn { () throws -> Int in
                    var found = 0
                    for round in 0..<perCoroutine {
                        let rows = mode == "text"
                            ? try connection.query("SELECT v FROM bench WHERE id = 17")
                            : try connection.query("SELECT v FROM bench WHERE id = ?", .int(Int64((index * 31 + round) % 1000 + 1)))
                        found += rows.count
                    }
                    return found
                }
            }
            let found = try workers.reduce(0) { $0 + (try $1.join()) }
            let seconds = Double(nowNanos() - start) / 1e9
            let total = perCoroutine * concurrency
            precondition(found == total, "expected \(total) rows, got \(found)")
            print("{\"bench\":\"mysql-point-select\",\"impl\":\"weave\",\"mode\":\"\(mode)\",\"concurrency\":\(concurrency),"
                + "\"queries\":\(total),\"seconds\":\((seconds * 1000).rounded() / 1000),\"qps\":\(Int(Double(total) / seconds))}")
            fflush(nil)
        }
    }
} catch {
    print("weave-mysql: \(error)")
    exit(1)
}
