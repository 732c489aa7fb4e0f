// nio-http-spin: the handlers of Weave's http-server sample on SwiftNIO (NIOHTTP1), for
// Benchmarks/compare-cores.sh.
//
//   nio-http-spin [--host 127.0.0.1] [--port 8080] [--threads 2]
//
// GET / answers "Hello, World!"; GET /spin?us=N busy-computes for N µs (1...1000000; a bad or
// missing N gets 400) with the same loop as the sample, on the event loop as a blocking
// handler would, and answers the 16 hex digits it ends on. --threads is the number of event
// loops of the MultiThreadedEventLoopGroup. Prints "listening on HOST:PORT" once it accepts
// connections (--port 0: any free port).
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix

/// Busy-computes for `microseconds` (a xorshift loop, `CLOCK_MONOTONIC` read every 256 rounds)
/// and returns the last value.
func spin(microseconds: Int) -> UInt64 {
    let deadline = monotonicNanoseconds() + UInt64(microseconds) * 1000
    var value: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(microseconds)
    repeat {
        for _ in 0..<256 {
            value ^= value << 13
            value ^= value >> 7
            value ^= value << 17
        }
    } while monotonicNanoseconds() < deadline
    return value
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The `us` parameter of `query` if it is all digits and within 1...1000000.
func microseconds(inQuery query: Substring) -> Int? {
    for parameter in query.split(separator: "&") where parameter.hasPrefix("us=") {
        let digits = parameter.dropFirst(3)
        guard !digits.isEmpty, digits.count <= 7, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }),
              let value = Int(digits), (1...1_000_000).contains(value) else { return nil }
        return value
    }
    return nil
}

/// Answers each request once its end has arrived; NIO's pipelining handler keeps the order.
final class SpinHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let hello = ByteBuffer(string: "Hello, World!")
    private static let badSpin = ByteBuffer(string: "us must be a whole number of microseconds from 1 to 1000000\n")
    private static let notFound = ByteBuffer(string: "not found\n")

    private var head: HTTPRequestHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let uri = request.uri
        let path = uri.prefix { $0 != "?" }
        let status: HTTPResponseStatus
        var body: ByteBuffer
        if request.method == .GET && path == "/" {
            (status, body) = (.ok, Self.hello)
        } else if request.method == .GET && path == "/spin" {
            let query = uri.dropFirst(path.count + 1)
            if let microseconds = microseconds(inQuery: query) {
                let value = spin(microseconds: microseconds)
                let hex = String(value, radix: 16)
                body = context.channel.allocator.buffer(capacity: 17)
                body.writeRepeatingByte(UInt8(ascii: "0"), count: 16 - hex.utf8.count)
                body.writeString(hex)
                body.writeInteger(UInt8(ascii: "\n"))
                status = .ok
            } else {
                (status, body) = (.badRequest, Self.badSpin)
            }
        } else {
            (status, body) = (.notFound, Self.notFound)
        }
        let keepAlive = request.isKeepAlive
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// Writes `message` to standard error and exits with status 2 (a bad command line).
func usageError(_ message: String) -> Never {
    let line = "nio-http-spin: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

var host = "127.0.0.1"
var port = 8080
var threads = 2
var arguments = CommandLine.arguments.dropFirst()
while let option = arguments.popFirst() {
    guard let value = arguments.popFirst() else { usageError("\(option) needs a value") }
    switch option {
    case "--host": host = value
    case "--port" where Int(value).map({ (0...65535).contains($0) }) == true: port = Int(value)!
    case "--threads" where (Int(value) ?? 0) >= 1: threads = Int(value)!
    default: usageError("usage: nio-http-spin [--host 127.0.0.1] [--port 8080 (0...65535)] [--threads 2 (at least 1)]")
    }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
            try channel.pipeline.syncOperations.addHandler(SpinHandler())
        }
    }
let server = try bootstrap.bind(host: host, port: port).wait()
print("listening on \(host):\(server.localAddress?.port ?? port) (\(threads) event loops)")
fflush(nil)  // stdout is a pipe under the benchmark script: make the line visible now
try server.closeFuture.wait()
