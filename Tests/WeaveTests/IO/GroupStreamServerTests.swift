import Synchronization
import Testing
import Weave
import WeaveTestSupport

@Suite("GroupStreamServer")
struct GroupStreamServerTests {
    /// Answers each connection with the index of the hub that serves it, then closes it.
    private static func hubIndexServer(_ group: HubGroup, served: HubIndexes) throws -> GroupStreamServer {
        try GroupStreamServer(group: group, port: 0) { connection in
            let index = HubGroup.currentHubIndex!
            served.values.withLock { $0.append(index) }
            try connection.write([UInt8(index)])
        }
    }

    @Test("200 connections spread over every hub, each served on the hub that accepted it", arguments: [2, 4])
    func connectionsSpread(hubs: Int) async throws {
        let served = HubIndexes()
        let answers = try await inHubGroup(hubs: hubs) { group -> [Int] in
            let server = try Self.hubIndexServer(group, served: served)
            try server.start()
            var answers: [Int] = []
            for _ in 0..<200 {
                let client = try TCPConnection.connect(host: "127.0.0.1", port: server.localAddress!.port, timeout: .seconds(10))
                defer { client.close() }
                answers.append(Int(try client.read(exactly: 1, timeout: .seconds(10))[0]))
            }
            try server.stop(gracePeriod: .seconds(5))
            return answers
        }
        let perHub = (0..<hubs).map { hub in answers.filter { $0 == hub }.count }
        #expect(answers.count == 200)
        // 200 connections from distinct ports hashed over the hubs' sockets: every hub gets some.
        #expect(perHub.allSatisfy { $0 > 0 }, "per hub: \(perHub)")
        #expect(served.values.withLock { $0.sorted() } == answers.sorted())
    }

    @Test("serveForever returns once a coroutine on another hub stops the server", arguments: [2, 4])
    func serveForeverUntilStopped(hubs: Int) async throws {
        let (answer, listeningBefore, listening) = try await inHubGroup(hubs: hubs) { group -> (Int, Int, Int) in
            let server = try Self.hubIndexServer(group, served: HubIndexes())
            let port = server.localAddress!.port
            let listeningBefore = listeningSocketsInThisProcess(port: port)
            // The server is Sendable: the last hub serves a client, then stops every hub.
            let stopper = try spawn { () throws -> Int in
                try group.hub(hubs - 1).run { () throws -> Int in
                    // Every hub listens from the bind on; serveForever (below) starts accepting.
                    let client = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
                    defer { client.close() }
                    let answer = Int(try client.read(exactly: 1, timeout: .seconds(10))[0])
                    try server.stop(gracePeriod: .seconds(5))
                    return answer
                }
            }
            try server.serveForever()
            let answer = try stopper.join()
            return (answer, listeningBefore, listeningSocketsInThisProcess(port: port))
        }
        #expect((0..<hubs).contains(answer))
        #expect(listeningBefore == hubs)
        // No hub's listener is left (asked of this process: a connection attempt could reach
        // another test's listener that has taken the port since).
        #expect(listening == 0)
    }

    @Test("a bind error on the shared address is thrown to the caller")
    func bindErrorThrown() async throws {
        let name = try await inHubGroup(hubs: 2) { group -> String? in
            // A listener without SO_REUSEPORT holds the port: no hub may join it.
            let holder = try TCPListener.bind(host: "127.0.0.1", port: 0)
            defer { holder.close() }
            do {
                _ = try GroupStreamServer(group: group, port: holder.localAddress!.port) { _ in }
                return nil
            } catch let error as UVError {
                return error.name
            }
        }
        #expect(name == "EADDRINUSE")
    }

    @Test("a hub held by CPU work does not stall connections served by the other hub")
    func busyHubDoesNotStallOthers() async throws {
        let (answeredBy, spinnerStillBusy) = try await inHubGroup(hubs: 2) { group -> ([Int], Bool) in
            let server = try Self.hubIndexServer(group, served: HubIndexes())
            try server.start()
            let spinning = Flag(), release = Flag(), finished = Flag()
            defer { release.set() }
            try group.hub(1).spawn(name: "spinner") {
                spinning.set()
                // Never yields: hub 1's thread is held until released (bounded against hangs).
                let limit = ContinuousClock.now + .seconds(30)
                while !release.isSet && ContinuousClock.now < limit {}
                finished.set()
            }
            let limit = ContinuousClock.now + .seconds(30)
            while !spinning.isSet && ContinuousClock.now < limit { try Coroutine.sleep(for: .milliseconds(1)) }
            // Connections hashed to hub 1 wait in its queue and time out; hub 0's are answered.
            let answers = Mutex<[Int]>([])
            try withCoroutineGroup { clients in
                for _ in 0..<40 {
                    try clients.spawn {
                        let client = try TCPConnection.connect(host: "127.0.0.1", port: server.localAddress!.port, timeout: .seconds(10))
                        defer { client.close() }
                        if let byte = try? client.read(exactly: 1, timeout: .milliseconds(500)) {
                            answers.withLock { $0.append(Int(byte[0])) }
                        }
                    }
                }
            }
            let stillBusy = !finished.isSet
            release.set()
            try server.stop(gracePeriod: .seconds(5))
            return (answers.withLock { $0 }, stillBusy)
        }
        #expect(spinnerStillBusy)
        #expect(!answeredBy.isEmpty)
        #expect(answeredBy.allSatisfy { $0 == 0 })
    }

    @Test("stop lets handlers in flight on every hub finish within the grace, cancels the rest, and refuses new connections")
    func gracefulStop() async throws {
        let (replies, hubsInFlight, listening, cancelled) = try await inHubGroup(hubs: 2) { group -> ([String], Set<Int>, Int, Int) in
            let started = Atomic<Int>(0), cancelled = Atomic<Int>(0)
            let inFlight = Mutex<Set<Int>>([])
            let server = try GroupStreamServer(group: group, port: 0) { connection in
                let mode = try connection.readLine(timeout: .seconds(10))
                inFlight.withLock { _ = $0.insert(HubGroup.currentHubIndex!) }
                started.add(1, ordering: .relaxed)
                do {
                    // "short" finishes within the grace; "long" outlasts it and is cancelled.
                    try Coroutine.sleep(for: mode == "short" ? .milliseconds(200) : .seconds(60))
                } catch is CancellationError {
                    cancelled.add(1, ordering: .relaxed)
                    throw CancellationError()
                }
                try connection.write("done\n")
            }
            try server.start()
            let port = server.localAddress!.port
            var clients: [TCPConnection] = []
            defer { for client in clients { client.close() } }
            for index in 0..<24 {
                let client = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
                clients.append(client)
                try client.write(index % 6 == 0 ? "long\n" : "short\n")
            }
            try withTimeout(.seconds(10)) {
                while started.load(ordering: .relaxed) < 24 { try Coroutine.sleep(for: .milliseconds(1)) }
            }
            try server.stop(gracePeriod: .seconds(3))
            let listening = listeningSocketsInThisProcess(port: port)
            let replies = try clients.map { try $0.readLine(timeout: .seconds(10)) ?? "EOF" }
            return (replies, inFlight.withLock { $0 }, listening, cancelled.load(ordering: .relaxed))
        }
        #expect(hubsInFlight == [0, 1])
        #expect(replies.enumerated().allSatisfy { index, reply in reply == (index % 6 == 0 ? "EOF" : "done") }, "\(replies)")
        #expect(cancelled == 4)
        #expect(listening == 0)
    }

    @Test("maxConnections holds for the whole server: a connection over the limit is closed at once, wherever it lands")
    func connectionLimitHoldsOverHubs() async throws {
        let (admitted, countAtLimit, peak, admittedAfter) = try await inHubGroup(hubs: 2) { group -> (Int, Int, Int, Bool) in
            let open = Atomic<Int>(0), peak = Atomic<Int>(0)
            let server = try GroupStreamServer(group: group, port: 0, maxConnections: 5) { connection in
                let now = open.add(1, ordering: .relaxed).newValue
                defer { open.subtract(1, ordering: .relaxed) }
                peak.max(now, ordering: .relaxed)
                try connection.write("ok\n")
                // Held until the client closes.
                while try !connection.read(upTo: 16, timeout: .seconds(30)).isEmpty {}
            }
            try server.start()
            let port = server.localAddress!.port
            var held: [TCPConnection] = []
            var admitted = 0
            // One at a time, each answered (or ended) before the next: exactly the limit is admitted.
            for _ in 0..<20 {
                let client = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
                if try client.readLine(timeout: .seconds(10)) == "ok" {
                    admitted += 1
                    held.append(client)
                } else {
                    client.close()
                }
            }
            let countAtLimit = server.connectionCount
            for client in held { client.close() }
            try withTimeout(.seconds(10)) {
                while server.connectionCount > 0 { try Coroutine.sleep(for: .milliseconds(1)) }
            }
            let again = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
            let admittedAfter = try again.readLine(timeout: .seconds(10)) == "ok"
            again.close()
            try server.stop(gracePeriod: .seconds(5))
            return (admitted, countAtLimit, peak.load(ordering: .relaxed), admittedAfter)
        }
        #expect(admitted == 5)
        #expect(countAtLimit == 5)
        #expect(peak == 5)
        #expect(admittedAfter)
    }

    // A child process: socket counts are exact there, with no other suite opening its own.
    @Test("after the group stops, every handler has unwound and no socket is left open (child process)")
    func backToBaseline() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let started = Atomic<Int>(0), unwound = Atomic<Int>(0)
            let cycles = 30, perCycle = 16
            let before = openFileDescriptorCount(kind: "socket:")
            do {
                for _ in 0..<cycles {
                    let left = try await inHubGroup(hubs: 2) { group -> Int in
                        let server = try GroupStreamServer(group: group, port: 0) { connection in
                            started.add(1, ordering: .relaxed)
                            defer { unwound.add(1, ordering: .relaxed) }
                            try Coroutine.sleep(for: .seconds(60))
                        }
                        try server.start()
                        let target = started.load(ordering: .relaxed) + perCycle
                        var clients: [TCPConnection] = []
                        defer { for client in clients { client.close() } }
                        for _ in 0..<perCycle {
                            clients.append(try TCPConnection.connect(host: "127.0.0.1", port: server.localAddress!.port, timeout: .seconds(10)))
                        }
                        try withTimeout(.seconds(10)) {
                            while started.load(ordering: .relaxed) < target { try Coroutine.sleep(for: .milliseconds(1)) }
                        }
                        // Every handler is in flight: the stop cancels them all.
                        try server.stop(gracePeriod: .zero)
                        return server.connectionCount
                    }
                    if left != 0 { failChild("\(left) connections counted after stop", status: 12) }
                }
            } catch {
                failChild("\(error)", status: 13)
            }
            let total = unwound.load(ordering: .relaxed)
            if total != cycles * perCycle { failChild("\(total) handlers unwound of \(cycles * perCycle)", status: 11) }
            expectSocketsBack(to: before)
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}

/// Hub indexes recorded by handlers on any hub.
private final class HubIndexes: Sendable {
    let values = Mutex<[Int]>([])
}
