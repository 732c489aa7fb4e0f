// weave-accept-burst: how a StreamServer takes a burst of connects (issue 12, item 10).
// Prints one JSON line per run with the kernel's TcpExt ListenOverflows before and after
// (system-wide: run it on an otherwise quiet machine).
//
//   weave-accept-burst connects [TOTAL] [CLIENTS] [same-hub|thread]
//       CLIENTS coroutines (default 64) connect and close back to back until TOTAL
//       (default 6,000) connections were made: seconds, overflows.
//   weave-accept-burst echo [CLIENTS] [same-hub|thread]
//       CLIENTS (default 5,000) connect at once and stay connected until all are, then
//       each echoes one line: time until the last connect returned, the most connections
//       the server held at once, overflows.
//
// Clients run on the server's hub by default (the shape issue 12 measured: every connect
// of a loop turn lands before the server's next turn); `thread` puts them on a hub of
// their own on a second thread, as separate client processes would.
//
// Build in release: `swift build -c release --product weave-accept-burst` in Benchmarks/.
import Glibc
import Synchronization
import Weave
import BenchSupport

/// TcpExt ListenOverflows from /proc/net/netstat (-1 if unreadable).
func listenOverflows() -> Int {
    guard let file = fopen("/proc/net/netstat", "r") else { return -1 }
    defer { fclose(file) }
    var lines: [String] = []
    var buffer = [CChar](repeating: 0, count: 8192)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        lines.append(String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    let tcpExt = lines.filter { $0.hasPrefix("TcpExt:") }
    guard tcpExt.count >= 2 else { return -1 }
    let names = tcpExt[0].split(whereSeparator: { $0 == " " || $0 == "\n" })
    let values = tcpExt[1].split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard let index = names.firstIndex(of: "ListenOverflows"), index < values.count else { return -1 }
    return Int(values[index]) ?? -1
}

/// Raises the soft descriptor limit to the hard one (each connection costs two here).
func raiseDescriptorLimit() -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return Int(limit.rlim_cur)
}

/// Runs `body` inside `Hub.run` on a new thread; `join` waits for it.
final class ClientThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void
    init(_ body: @escaping () -> Void) {
        self.body = body
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<ClientThread>.fromOpaque(raw!).takeUnretainedValue().body()
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
        precondition(status == 0, "pthread_create: \(status)")
    }
    func join() { pthread_join(thread, nil) }
}

/// What the client side measured.
struct ClientResult {
    var seconds = 0.0
    var lastConnectMilliseconds = 0.0
    var failures = 0
    var echoed = 0
}

let arguments = Array(CommandLine.arguments.dropFirst())
let mode = arguments.first ?? "connects"
let numbers = arguments.dropFirst().compactMap { Int($0) }
let placement = arguments.contains("thread") ? "thread" : "same-hub"
let descriptorLimit = raiseDescriptorLimit()

/// The client side of `connects`: `clients` coroutines, `total` connect-and-close in all.
func runConnects(port: Int, total: Int, clients: Int) throws -> ClientResult {
    var result = ClientResult()
    var next = 0
    let start = nowNanos()
    let workers = try (0..<clients).map { _ in
        try spawn(stackSize: 64 * 1024) {
            while next < total {
                next += 1
                do {
                    let connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(30))
                    connection.close()
                } catch { result.failures += 1 }
            }
        }
    }
    try joinAll(workers)
    result.seconds = Double(nowNanos() - start) / 1e9
    return result
}

/// The client side of `echo`: `clients` connect at once, wait for all, echo one line.
func runEcho(port: Int, clients: Int) throws -> ClientResult {
    var result = ClientResult()
    var connected = 0
    let allConnected = Event()
    var lastConnect: UInt64 = 0
    let start = nowNanos()
    let workers = try (0..<clients).map { index in
        try spawn(stackSize: 64 * 1024) {
            let connection: TCPConnection
            do {
                connection = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(30))
            } catch {
                result.failures += 1
                connected += 1
                if connected == clients { allConnected.set() }
                return
            }
            defer { connection.close() }
            lastConnect = max(lastConnect, nowNanos())
            connected += 1
            if connected == clients { allConnected.set() }
            try allConnected.wait()
            try connection.write("hello \(index)\n")
            if try connection.readLine(timeout: .seconds(30)) == "hello \(index)" { result.echoed += 1 }
        }
    }
    try joinAll(workers)
    result.seconds = Double(nowNanos() - start) / 1e9
    result.lastConnectMilliseconds = Double(lastConnect - start) / 1e6
    return result
}

let clientCount = mode == "echo" ? (numbers.first ?? 5_000) : (numbers.dropFirst().first ?? 64)
let total = numbers.first ?? 6_000
let port = Atomic<Int>(0)
let clientsDone = Atomic<Bool>(false)
nonisolated(unsafe) var clientResult = ClientResult()
nonisolated(unsafe) var clientError: (any Error)?
var maxServerConnections = 0
let overflowsBefore = listenOverflows()

func clientSide(port: Int) {
    do {
        clientResult = mode == "echo"
            ? try runEcho(port: port, clients: clientCount)
            : try runConnects(port: port, total: total, clients: clientCount)
    } catch { clientError = error }
}

try Hub.run {
    let server = try StreamServer(port: 0) { connection in
        while let line = try connection.readLine() { try connection.write(line + "\n") }
    }
    try server.start()
    let serverPort = server.localAddress!.port
    var clientThread: ClientThread?
    if placement == "same-hub" {
        try spawn {
            clientSide(port: serverPort)
            clientsDone.store(true, ordering: .releasing)
        }
    } else {
        clientThread = ClientThread {
            do { try Hub.run { clientSide(port: serverPort) } } catch { clientError = error }
            clientsDone.store(true, ordering: .releasing)
        }
    }
    port.store(serverPort, ordering: .releasing)
    while !clientsDone.load(ordering: .acquiring) {
        maxServerConnections = max(maxServerConnections, server.connectionCount)
        try Coroutine.sleep(for: .milliseconds(1))
    }
    clientThread?.join()
    try server.stop(gracePeriod: .seconds(1))
}
let overflowsAfter = listenOverflows()
if let clientError { print("client error: \(clientError)") }
var fields: [String] = ["\"case\":\"\(mode)\"", "\"clients\":\(clientCount)", "\"placement\":\"\(placement)\""]
if mode == "echo" {
    fields += ["\"last_connect_ms\":\(Int(clientResult.lastConnectMilliseconds * 10) / 10)",
               "\"max_server_connections\":\(maxServerConnections)", "\"echoed\":\(clientResult.echoed)"]
} else {
    fields += ["\"connects\":\(total)"]
}
fields += ["\"seconds\":\(Double(Int(clientResult.seconds * 1000)) / 1000)", "\"failures\":\(clientResult.failures)",
           "\"listen_overflows\":\(overflowsAfter - overflowsBefore)", "\"nofile\":\(descriptorLimit)"]
print("{" + fields.joined(separator: ",") + "}")
