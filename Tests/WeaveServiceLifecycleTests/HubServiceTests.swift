import Glibc
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import Weave
import WeaveTestSupport
import WeaveServiceLifecycle

@Suite("HubService")
struct HubServiceTests {
    @Test("graceful shutdown stops accepting, lets a connection in flight finish, then the service returns")
    func gracefulShutdown() async throws {
        let echo = EchoService()
        let group = ServiceGroup(services: [echo.service], logger: Logger(label: "test"))
        async let running: Void = group.run()
        let port = try await echo.port()
        let client = try HubThread(name: "client")

        let finished = try await client.run { () throws -> Bool in
            let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
            defer { connection.close() }
            guard try echoes(connection, "before") else { return false }
            // The service is told to stop while this connection is being served.
            try awaitAsync { await group.triggerGracefulShutdown() }
            // New connections are refused once the listener is closed...
            try waitUntilRefused(port: port)
            // ...while the one in flight is still served to its end.
            return try echoes(connection, "during")
        }
        #expect(finished)
        try await running  // the group ends once the handler has finished
        #expect(try await client.run { try isRefused(port: port) })
        try await client.shutdown()
    }

    @Test("a body error fails the group and stops the hub")
    func bodyError() async throws {
        let cancelled = Flag()
        let port = Atomic(0)
        let service = HubService(name: "failing") { _ in
            let server = try StreamServer(port: 0) { _ in }
            try server.start()
            port.store(server.localAddress!.port, ordering: .releasing)
            try Coroutine.sleep(for: .milliseconds(20))
            throw BodyFailure()
        }
        let watcher = HubService(name: "bystander") { shutdown in
            do { try shutdown.wait() } catch { cancelled.set(); throw error }
        }
        let group = ServiceGroup(services: [service, watcher], logger: Logger(label: "test"))
        await #expect(throws: BodyFailure.self) { try await group.run() }
        // The group cancelled the other service: its body saw the cancellation.
        #expect(cancelled.isSet)
        // The failed service's hub has stopped: its listener, left open by the body, is closed.
        let client = try HubThread(name: "client")
        let listened = port.load(ordering: .acquiring)
        #expect(listened != 0)
        #expect(try await client.run { try isRefused(port: listened) })
        try await client.shutdown()
    }

    @Test("cancelling the task cancels the body, and run() throws CancellationError once the hub has stopped")
    func taskCancellation() async throws {
        let echo = EchoService()
        let task = Task { try await echo.service.run() }
        let port = try await echo.port()
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(echo.cancelled.isSet)
        let client = try HubThread(name: "client")
        #expect(try await client.run { try isRefused(port: port) })
        try await client.shutdown()
    }

    @Test("cancelling a group's task ends the service in it")
    func groupCancellation() async throws {
        let echo = EchoService()
        let group = ServiceGroup(services: [echo.service], logger: Logger(label: "test"))
        let task = Task { try await group.run() }
        let port = try await echo.port()
        task.cancel()
        if case .failure(let error) = await task.result { #expect(error is CancellationError) }
        #expect(echo.cancelled.isSet)
        let client = try HubThread(name: "client")
        #expect(try await client.run { try isRefused(port: port) })
        try await client.shutdown()
    }

    @Test("the body sees graceful shutdown as its event, set on the hub's thread")
    func shutdownEvent() async throws {
        let seen = Record()
        let service = HubService(name: "waiter") { shutdown in
            seen.append(shutdown.isSet ? "set" : "clear")
            try shutdown.wait()
            seen.append(Hub.current != nil ? "woken on the hub" : "woken elsewhere")
        }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        async let running: Void = group.run()
        try await waitUntil { !seen.all.isEmpty }
        await group.triggerGracefulShutdown()
        try await running
        #expect(seen.all == ["clear", "woken on the hub"])
    }

    @Test("a UnixStreamServer served until graceful shutdown: a line round trip, then the socket file is gone")
    func unixServer() async throws {
        let path = "/tmp/weave-\(getpid())-lifecycle-\(UInt32.random(in: 0...UInt32.max)).sock"
        let service = HubService(name: "unix echo") { shutdown in
            let server = try UnixStreamServer(path: path) { connection in
                while let line = try connection.readLine() { try connection.write(line + "\n") }
            }
            try server.serve(until: shutdown)
        }
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        async let running: Void = group.run()
        let client = try HubThread(name: "client")
        let reply = try await client.run { () throws -> String? in
            // Generous: on a loaded machine the service's hub may take seconds to start.
            let connection = try withTimeout(.seconds(60)) { () throws -> UnixConnection in
                while true {  // until the service has bound the path
                    do { return try UnixConnection.connect(path: path) } catch is UVError { try Coroutine.sleep(for: .milliseconds(2)) }
                }
            }
            defer { connection.close() }
            try connection.write("hello\n")
            return try connection.readLine(timeout: .seconds(10))
        }
        #expect(reply == "hello")
        await group.triggerGracefulShutdown()
        try await running
        var info = stat()
        #expect(lstat(path, &info) != 0)
        try await client.shutdown()
    }

    @Test("SIGTERM shuts the group down gracefully; nothing leaks across runs")
    func sigterm() async {
        // SIGTERM would end the test runner: the check runs in a child process of its own,
        // where nothing else opens descriptors meanwhile.
        await #expect(processExitsWith: .success) {
            var counts: [Int] = []
            for _ in 0..<6 {
                let echo = EchoService()
                let group = ServiceGroup(
                    services: [echo.service], gracefulShutdownSignals: [.sigterm], logger: Logger(label: "test"))
                async let running: Void = group.run()
                let port = try await echo.port()
                let client = try HubThread(name: "client")
                guard try await client.run({
                    let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
                    defer { connection.close() }
                    return try echoes(connection, "ping")
                }) else { exit(2) }
                kill(getpid(), SIGTERM)
                try await running
                guard try await client.run({ try isRefused(port: port) }) else { exit(3) }
                try await client.shutdown()
                // Threads that ended may still be closing what they held on a loaded machine:
                // give the count a generous moment to come back before recording it.
                var count = openFileDescriptorCount()
                for _ in 0..<500 where !counts.isEmpty && count != counts[counts.count - 1] {
                    try await Task.sleep(for: .milliseconds(10))
                    count = openFileDescriptorCount()
                }
                counts.append(count)
            }
            // The first runs open what stays open for good (the signal source, the
            // executor's and Dispatch's own descriptors, some made lazily: on a loaded
            // machine one pipe has been seen to appear as late as the fifth run). A leak
            // grows the count every run: over the last four runs it may not grow by more
            // than that one late descriptor.
            guard counts[5] - counts[2] <= 1 else {
                print("open descriptors after each run: \(counts)")
                exit(4)
            }
        }
    }
}

struct BodyFailure: Error {}

final class Flag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

final class Record: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

/// A `HubService` whose body serves a TCP echo on an ephemeral port of 127.0.0.1 until
/// graceful shutdown, and reports the port.
struct EchoService: Sendable {
    let service: HubService
    /// Set when the body's serving was cancelled.
    let cancelled = Flag()
    private let ports: AsyncStream<Int>

    init() {
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        self.ports = ports
        let cancelled = self.cancelled
        service = HubService(name: "echo") { shutdown in
            let server = try StreamServer(port: 0) { connection in
                while case let bytes = try connection.read(), !bytes.isEmpty { try connection.write(bytes) }
            }
            sink.yield(server.localAddress!.port)
            sink.finish()
            do {
                try server.serve(until: shutdown, gracePeriod: .seconds(10))
            } catch is CancellationError {
                cancelled.set()
                throw CancellationError()
            }
        }
    }

    func port() async throws -> Int {
        for await port in ports { return port }
        throw BodyFailure()
    }
}

/// Writes `text` and reads it back (on a hub).
func echoes(_ connection: TCPConnection, _ text: String) throws -> Bool {
    try connection.write(text)
    return try connection.read(exactly: text.utf8.count, timeout: .seconds(10)) == Array(text.utf8)
}

/// Whether a connection to `port` is refused (on a hub).
func isRefused(port: Int) throws -> Bool {
    do {
        try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10)).close()
        return false
    } catch let error as UVError where error.name == "ECONNREFUSED" {
        return true
    }
}

/// Waits (on a hub, for at most 10 s) until connections to `port` are refused.
func waitUntilRefused(port: Int) throws {
    try withTimeout(.seconds(60)) {
        while try !isRefused(port: port) { try Coroutine.sleep(for: .milliseconds(5)) }
    }
}

/// Waits until `condition` holds: at most 60 s, a bound against hangs only (a service's hub
/// can take seconds to start while other suites load the machine).
func waitUntil(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw BodyFailure() }
        try await Task.sleep(for: .milliseconds(5))
    }
}

