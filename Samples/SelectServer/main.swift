// select-server: the echo service written the old way, with a Poller over raw non-blocking
// sockets (one coroutine, no StreamServer): the readiness model that runs under Weave's
// coroutines, as Python's `select.poll` loop would be.
// Run: swift run -c release select-server --host 127.0.0.1 --port 9001
import ArgumentParser
import Glibc
import SampleSupport
import Weave

struct SelectServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "select-server",
        abstract: "The echo service on raw non-blocking sockets and a Poller, in one coroutine.")

    @Option(help: "The numeric IPv4 address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 9001

    func validate() throws {
        try requirePort(port)
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else {
            throw ValidationError("--host must be a numeric IPv4 address, not '\(host)'")
        }
    }

    func run() throws {
        try Hub.run { try serve(host: host, port: port) }
    }
}

/// Prints `message` on stderr and exits (a sample's way to report setup errors).
func fail(_ message: String) -> Never {
    var line = "select-server: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

/// Dies with a message naming the failed call.
func check(_ result: Int32, _ what: String) -> Int32 {
    if result < 0 { fail("\(what): \(String(cString: strerror(errno)))") }
    return result
}

/// A listening IPv4 socket, non-blocking.
func listeningSocket(host: String, port: Int) -> (fd: Int32, port: Int) {
    let fd = check(socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0), "socket")
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { fail("--host must be a numeric IPv4 address, not '\(host)'") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            _ = check(bind(fd, $0, length), "bind \(host):\(port)")
            _ = check(getsockname(fd, $0, &length), "getsockname")
        }
    }
    _ = check(listen(fd, 511), "listen")
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// Echoes until the process is stopped.
func serve(host: String, port: Int) throws {
    let (listener, boundPort) = listeningSocket(host: host, port: port)
    let poller = try Poller()
    try poller.register(listener, for: .readable)
    /// Bytes read but not yet written back, per client (only when the peer reads slowly).
    var unsent: [Int32: [UInt8]] = [:]
    var buffer = [UInt8](repeating: 0, count: 16 * 1024)

    func drop(_ fd: Int32) {
        poller.unregister(fd)  // before close: never close an fd libuv watches
        unsent[fd] = nil
        close(fd)
    }

    /// Writes what it can; keeps the rest and asks for writability (then stops reading).
    func send(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0 && errno != EAGAIN {
            drop(fd)
            return
        }
        let rest = bytes.dropFirst(max(0, written))
        if rest.isEmpty {
            unsent[fd] = nil
            try poller.modify(fd, for: .readable)
        } else {
            unsent[fd] = Array(rest)
            try poller.modify(fd, for: .writable)
        }
    }

    print("listening on \(host):\(boundPort)")
    fflush(nil)
    while true {
        for (fd, events) in try poller.poll() {
            if fd == listener {
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { break }  // EAGAIN: accepted them all (EMFILE: try on the next poll)
                    // Registering makes it non-blocking too (libuv's uv_poll_init does); say so anyway.
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    var yes: Int32 = 1
                    setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
                    try poller.register(client, for: .readable)
                }
            } else if let pending = unsent[fd] {
                if events.contains(.writable) || events.contains(.error) { try send(fd, pending[...]) }
            } else if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    try send(fd, buffer[..<count])
                } else if count == 0 || errno != EAGAIN {
                    drop(fd)  // end of stream or error
                }
            }
        }
    }
}

SelectServerCommand.main()
