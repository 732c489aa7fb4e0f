import Glibc
import Testing
import WeaveTestSupport
import Weave
@testable import WeaveTLS

@Suite("TLS resources: many connections, descriptors and SSL objects back to baseline")
struct TLSResourceTests {
    @Test("200 concurrent TLS connections echo; then sockets and live SSL objects are back to baseline (child process)")
    func manyConnections() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let before = openSocketCount()
            var answered = 0
            var during = 0
            do {
                // One hub makes all 400 handshakes, and the first connections wait for the last
                // before they write: on a loaded machine that takes far longer than the usual
                // timeouts (the first servers' reads timed out once, 30 s into a run at load 95).
                let server = try serverContext(handshakeTimeout: .seconds(300))
                let client = try clientContext(handshakeTimeout: .seconds(300))
                try Hub.run {
                    let echoServer = try StreamServer(port: 0, backlog: 1024, tls: server) {
                        try echo($0, readTimeout: .seconds(300))
                    }
                    try echoServer.start()
                    let port = echoServer.localAddress!.port
                    let gate = Event()
                    var ready = 0
                    let clients = try (0..<200).map { index in
                        try spawn(stackSize: 128 * 1024) {
                            let connection = try TLSConnection.connect(host: "localhost", port: port, context: client,
                                                                       timeout: .seconds(300))
                            defer { connection.close() }
                            ready += 1
                            try gate.wait()
                            try connection.write(Array("hello \(index)".utf8))
                            try connection.shutdownWrite()
                            if try readToEnd(connection) == Array("hello \(index)".utf8) { answered += 1 }
                        }
                    }
                    while ready < 200 && clients.allSatisfy({ !$0.isFinished }) {
                        try Coroutine.sleep(for: .milliseconds(5))
                    }
                    during = TLSContext.liveConnectionsInProcess.load(ordering: .relaxed)
                    gate.set()
                    try joinAll(clients)
                    try echoServer.stop()
                }
            } catch {
                var text = "child failed: \(error)\n"
                text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
                exit(13)
            }
            let after = openSocketCount()
            let live = TLSContext.liveConnectionsInProcess.load(ordering: .relaxed)
            var text = "answered \(answered) during \(during) live \(live) sockets \(before) -> \(after)\n"
            text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            guard answered == 200 else { exit(10) }
            guard during == 400 else { exit(11) }
            guard live == 0 else { exit(12) }
            guard after == before else { exit(14) }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("answered 200 during 400 live 0"), "\(stderr.suffix(2000))")
    }
}
