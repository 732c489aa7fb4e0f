import Glibc
import MariaDBScratch
import Testing
import Weave
@testable import WeaveMySQL
import WeaveTestSupport

@Suite("MySQLPool against a real MariaDB server")
struct MySQLPoolTests {
    @Test("50 coroutines query through a pool of 5 while a ticker keeps running; nothing leaks")
    func concurrentQueriesThroughPool() async throws {
        let (results, maxInUse, ticks, idle, coroutinesLeft, socketsLeft) = try await onHub {
            () throws -> ([Int], Int, Int, Int, Int, Int) in
            let hub = Hub.current!
            let pool = MySQLPool(configuration: try TestServer.configuration(), maximumConnections: 5)
            let baselineCoroutines = hub.statistics.aliveCoroutines
            let inUse = Box(0)
            let maxInUse = Box(0)
            let sockets = Box<Set<String>>([])
            let done = Box(false)
            let ticks = Box(0)
            let ticker = try spawn {
                while !done.value {
                    try Coroutine.sleep(for: .milliseconds(2))
                    ticks.value += 1
                }
            }
            let workers = try (0..<50).map { index in
                try spawn { () throws -> Int in
                    try pool.withConnection { connection in
                        inUse.value += 1
                        maxInUse.value = max(maxInUse.value, inUse.value)
                        defer { inUse.value -= 1 }
                        if let inode = socketInode(connection.socket) { sockets.value.insert(inode) }
                        // SLEEP keeps the server busy so the queries overlap.
                        return try connection.query(Int.self, "SELECT ? + 0 * SLEEP(0.02)", .int(Int64(index)))[0]
                    }
                }
            }
            let results = try workers.map { try $0.join() }
            let ticksDuring = ticks.value
            done.value = true
            try ticker.join()
            let idle = pool.idleConnections
            pool.close()
            let open = openSocketInodes()
            return (results, maxInUse.value, ticksDuring, idle,
                    hub.statistics.aliveCoroutines - baselineCoroutines, sockets.value.intersection(open).count)
        }
        #expect(results == Array(0..<50))
        #expect(maxInUse == 5)
        // 10 rounds of 20 ms queries: each round's replies wake the loop with the ticker's 2 ms
        // timer long due, so even a starved hub thread ticks once a round (about 100 times when
        // it has a core). A ticker that never ran would mean the hub blocked.
        #expect(ticks >= 5)
        #expect(idle == 5)
        #expect(coroutinesLeft == 0)
        #expect(socketsLeft == 0)
    }

    @Test("a server killed mid-query gives a typed error; after its restart the pool reconnects")
    func serverRestart() async throws {
        let outcome = try await onHub { () throws -> [String] in
            // A server of its own: the shared one serves the other tests meanwhile.
            // Started, killed and stopped on the thread pool: the hub never waits for them.
            let server = try blocking { try MariaDBScratchServer.start() }
            defer { _ = try? blocking { server.stop() } }
            let pool = MySQLPool(configuration: TestServer.configuration(for: server), maximumConnections: 2)
            defer { pool.close() }
            var outcome: [String] = []
            // Two idle connections, to be found dead after the restart.
            let warmUp = try (0..<2).map { _ in try spawn { try pool.query("SELECT SLEEP(0.05)") } }
            try warmUp.forEach { _ = try $0.join() }
            outcome.append("idle \(pool.idleConnections)")

            let inFlight = try spawn { () throws -> MySQLError? in
                do { try pool.query("SELECT SLEEP(20)") } catch let error as MySQLError { return error }
                return nil
            }
            try Coroutine.sleep(for: .milliseconds(200))
            try blocking { server.kill() }
            let error = try inFlight.join()
            outcome.append("\(error?.code.description ?? "no error") \(error.map { [2006, 2013].contains($0.number) } ?? false)")
            do { try pool.query("SELECT 1") } catch let error as MySQLError { outcome.append("down: \(error.code)") }

            try blocking { try server.restart() }
            outcome.append("after restart \(try pool.query(Int.self, "SELECT 42")[0])")
            outcome.append("idle \(pool.idleConnections)")
            return outcome
        }
        #expect(outcome == [
            "idle 2", "connectionLost true", "down: connectionLost", "after restart 42", "idle 1",
        ])
    }

    @Test("a pool whose connections are all lent times out waiting; a closed pool refuses")
    func waitTimeoutAndClose() async throws {
        let outcome = try await onHub { () throws -> [String] in
            let pool = MySQLPool(
                configuration: try TestServer.configuration(), maximumConnections: 1, waitTimeout: .milliseconds(100))
            var outcome: [String] = []
            let holder = try spawn { try pool.query("SELECT SLEEP(0.5)") }
            try Coroutine.yield()
            do { try pool.query("SELECT 1") } catch is TimeoutError { outcome.append("wait timed out") }
            _ = try holder.join()
            outcome.append("then \(try pool.query(Int.self, "SELECT 1")[0])")
            pool.close()
            do { try pool.query("SELECT 1") } catch let error as MySQLError { outcome.append("\(error.code)") }
            return outcome
        }
        #expect(outcome == ["wait timed out", "then 1", "closed"])
    }
}
