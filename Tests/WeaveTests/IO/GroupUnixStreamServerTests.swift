import Glibc
import Synchronization
import Testing
import Weave
import WeaveTestSupport

@Suite("GroupUnixStreamServer")
struct GroupUnixStreamServerTests {
    private static func socketPath(_ name: String) -> String {
        "/tmp/weave-group-unix-\(getpid())-\(name).sock"
    }

    @Test("one acceptor hands 200 connections to every hub in turn; each is served where it lands, bytes intact", arguments: [2, 3])
    func connectionsSpread(hubs: Int) async throws {
        let path = Self.socketPath("spread-\(hubs)")
        let answers = try await inHubGroup(hubs: hubs) { group -> [Int] in
            let server = try GroupUnixStreamServer(group: group, path: path, removingStaleSocket: true) { connection in
                // Echo one line (sent before the hand-off completed), then the serving hub.
                let line = try connection.readLine(timeout: .seconds(10)) ?? ""
                try connection.write("\(line) \(HubGroup.currentHubIndex!)\n")
            }
            try server.start()
            var answers: [Int] = []
            for number in 0..<200 {
                let client = try UnixConnection.connect(path: path, timeout: .seconds(10))
                defer { client.close() }
                try client.write("hello \(number)\n")
                let reply = try client.readLine(timeout: .seconds(10)) ?? ""
                let parts = reply.split(separator: " ")
                guard parts.count == 3, parts[0] == "hello", parts[1] == "\(number)" else {
                    throw WeaveError(.invalidArgument, "unexpected reply '\(reply)'")
                }
                answers.append(Int(parts[2]) ?? -1)
            }
            try server.stop(gracePeriod: .seconds(5))
            return answers
        }
        let perHub = (0..<hubs).map { hub in answers.filter { $0 == hub }.count }
        #expect(answers.count == 200)
        #expect(perHub.allSatisfy { $0 > 0 }, "per hub: \(perHub)")
        #expect(access(path, F_OK) != 0, "stopping removed the socket file")
    }

    @Test("maxConnections holds over every hub, and stop cancels handlers in flight on every hub")
    func limitAndStop() async throws {
        let path = Self.socketPath("limit")
        let started = Atomic<Int>(0), unwound = Atomic<Int>(0)
        let (refusedReads, countAtLimit) = try await inHubGroup(hubs: 2) { group -> (Int, Int) in
            let server = try GroupUnixStreamServer(group: group, path: path, maxConnections: 4, removingStaleSocket: true) { connection in
                started.add(1, ordering: .relaxed)
                defer { unwound.add(1, ordering: .relaxed) }
                try connection.write("ok\n")
                try Coroutine.sleep(for: .seconds(60))
            }
            try server.start()
            var clients: [UnixConnection] = []
            defer { for client in clients { client.close() } }
            for _ in 0..<4 {
                let client = try UnixConnection.connect(path: path, timeout: .seconds(10))
                guard try client.readLine(timeout: .seconds(10)) == "ok" else { throw WeaveError(.invalidArgument, "not admitted") }
                clients.append(client)
            }
            var refused = 0
            for _ in 0..<3 {
                let extra = try UnixConnection.connect(path: path, timeout: .seconds(10))
                clients.append(extra)
                // Closed at once without a byte: the end of the stream.
                if try extra.readLine(timeout: .seconds(10)) == nil { refused += 1 }
            }
            let count = server.connectionCount
            try server.stop(gracePeriod: .milliseconds(50))
            return (refused, count)
        }
        #expect(refusedReads == 3)
        #expect(countAtLimit == 4)
        #expect(started.load(ordering: .relaxed) == 4)
        #expect(unwound.load(ordering: .relaxed) == 4)
    }

    // A child process: socket counts are exact there, with no other suite opening its own.
    @Test("after many group runs, no socket is left open (child process)")
    func backToBaseline() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let before = openFileDescriptorCount(kind: "socket:")
            do {
                for cycle in 0..<20 {
                    let path = "/tmp/weave-group-unix-\(getpid())-baseline-\(cycle).sock"
                    try await inHubGroup(hubs: 2) { group in
                        let server = try GroupUnixStreamServer(group: group, path: path, removingStaleSocket: true) { _ in
                            try Coroutine.sleep(for: .seconds(60))
                        }
                        try server.start()
                        var clients: [UnixConnection] = []
                        defer { for client in clients { client.close() } }
                        for _ in 0..<16 { clients.append(try UnixConnection.connect(path: path, timeout: .seconds(10))) }
                        try withTimeout(.seconds(10)) {
                            while server.connectionCount < 16 { try Coroutine.sleep(for: .milliseconds(1)) }
                        }
                        try server.stop(gracePeriod: .zero)
                    }
                }
            } catch {
                failChild("\(error)", status: 13)
            }
            expectSocketsBack(to: before)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}
