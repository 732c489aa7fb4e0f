import Testing
import Weave
import WeaveMemcached
import WeaveTestSupport

@Suite("memcached reply framing")
struct MemcachedFramingTests {
    @Test("a reply that arrives a few bytes at a time is put back together")
    func splitReply() async throws {
        try await onHub {
            let reply = Array("VA 12 c77 f3\r\nhello\r\nworld\r\n".utf8)
            let fake = try StreamServer(port: 0) { connection in
                while try connection.readLine() != nil {
                    for start in stride(from: 0, to: reply.count, by: 3) {
                        try connection.write(Array(reply[start..<min(start + 3, reply.count)]))
                        try Coroutine.sleep(for: .milliseconds(2))
                    }
                }
            }
            try fake.start()
            defer { try? fake.stop(gracePeriod: .zero) }
            let server = try MemcachedServer(host: "127.0.0.1", port: fake.localAddress!.port)
            let client = try MemcachedClient(servers: [server])
            defer { client.close() }
            for _ in 0..<3 {
                let item = try client.getItem("k")
                try check(item == MemcachedItem(value: Array("hello\r\nworld".utf8), cas: 77, flags: 3), "item \(String(describing: item))")
            }
            try check(client.openConnectionCount(to: server) == 1, "the connection was reused")
        }
    }
}
