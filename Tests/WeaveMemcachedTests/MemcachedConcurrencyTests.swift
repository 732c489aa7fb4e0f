import Testing
import Weave
import WeaveMemcached
import WeaveTestSupport

@Suite("memcached under many coroutines")
struct MemcachedConcurrencyTests {
    @Test("1,000 coroutines x 100 increments give the exact total; sockets and coroutines return to baseline")
    func manyIncrements() async throws {
        let (total, leftovers) = try await onHub { () throws -> (UInt64, [Int]) in
            try withMemcached { processes in
                let server = processes[0].server
                let hub = Hub.current!
                let coroutinesBefore = hub.statistics.aliveCoroutines
                let socketsBefore = openSocketCount(toPort: server.port)
                // 1,000 callers share 16 connections, so the last in line waits some 60 round
                // trips: on a loaded machine far more than the default 5 s.
                let client = try MemcachedClient(servers: [server],
                                                 configuration: .init(poolWaitTimeout: .seconds(300), requestTimeout: .seconds(30)))
                try client.set("total", "0")
                let group = Group()
                for _ in 0..<1_000 {
                    try group.spawn {
                        for _ in 0..<100 { try client.increment("total") }
                    }
                }
                try group.join(raiseError: true)
                let total = try client.increment("total", by: 0)
                let pooled = client.openConnectionCount(to: server)
                client.close()
                try check(pooled >= 1 && pooled <= client.configuration.maximumConnectionsPerServer, "pool bounded: \(pooled)")
                // The closes complete in libuv's next turn.
                try Coroutine.sleep(for: .milliseconds(50))
                return (total, [hub.statistics.aliveCoroutines - coroutinesBefore, openSocketCount(toPort: server.port) - socketsBefore,
                                socketsBefore])
            }
        }
        #expect(total == 100_000)
        #expect(leftovers == [0, 0, 0])
    }

    @Test("getMany pipelines 1,000 keys in one exchange per server")
    func pipelinedGetMany() async throws {
        try await onHub {
            try withMemcached { processes in
                let client = try MemcachedClient(servers: [processes[0].server])
                defer { client.close() }
                let keys = (0..<1_000).map { "bulk-\($0)" }
                for key in keys where key.hasSuffix("7") { try client.set(key, [UInt8](repeating: 65, count: 3_000)) }
                let values = try client.getMany(keys)
                try check(values.count == 100, "the 100 stored keys: \(values.count)")
                try check(values.values.allSatisfy { $0.count == 3_000 }, "whole values")
                try check(client.openConnectionCount(to: processes[0].server) == 1, "one connection")
            }
        }
    }
}
