import Glibc
import Synchronization
import Weave
import WeaveMySQL

func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Runs `perCoroutine` queries on each of `connections`, one coroutine each (the first is
/// client number `first`); returns the rows found.
func drive(_ connections: [MySQLConnection], first: Int, mode: String, perCoroutine: Int) throws -> Int {
    let workers = try connections.enumerated().map { offset, connection in
        try spawn { () throws -> Int in
            let index = first + offset
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
    return try workers.reduce(0) { $0 + (try $1.join()) }
}

/// Prints one mode's JSON line.
func report(_ mode: String, found: Int, seconds: Double, perCoroutine: Int, concurrency: Int, hubs: Int) {
    let total = perCoroutine * concurrency
    precondition(found == total, "expected \(total) rows, got \(found)")
    print("{\"bench\":\"mysql-point-select\",\"impl\":\"weave\",\"mode\":\"\(mode)\",\"concurrency\":\(concurrency),"
        + "\"hubs\":\(hubs),\"queries\":\(total),\"seconds\":\((seconds * 1000).rounded() / 1000),\"qps\":\(Int(Double(total) / seconds))}")
    fflush(nil)
}

/// How many hubs have opened their connections: each starts its clock once all have.
final class StartLine: Sendable {
    let ready = Atomic<Int>(0)
}
