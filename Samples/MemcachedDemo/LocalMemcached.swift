import Glibc
import Weave
import WeaveMemcached

/// A memcached process of this program's own, on 127.0.0.1 and a free port, stopped by
/// its pid at ``stop()`` (and by the hub when it shuts down).
final class LocalMemcached {
    let server: MemcachedServer
    private let process: RunningProcess

    init(executable: String) throws {
        guard access(executable, X_OK) == 0 else {
            throw DemoError("\(executable) not found: apt-get install memcached, or pass --servers")
        }
        // Ask the kernel for a free port, then hand it to memcached.
        let probe = try TCPListener.bind(host: "127.0.0.1", port: 0)
        let port = probe.localAddress!.port
        probe.close()
        var arguments = ["-l", "127.0.0.1", "-p", "\(port)", "-U", "0"]
        if getuid() == 0 { arguments += ["-u", "root"] }  // memcached will not run as root otherwise
        process = try Command.spawn(executable, arguments: arguments, standardInput: .discard, standardOutput: .discard,
                                    standardError: .inherit, parentDeathSignal: SIGTERM)
        server = try MemcachedServer(host: "127.0.0.1", port: port)
        // Ready once it accepts a connection.
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if let connection = try? TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(1)) {
                connection.close()
                return
            }
            guard ContinuousClock.now < deadline, !process.hasExited else {
                stop()
                throw DemoError("memcached on port \(port) did not start")
            }
            try Coroutine.sleep(for: .milliseconds(20))
        }
    }

    func stop() {
        try? process.terminate()
        _ = try? process.wait(timeout: .seconds(5))
        process.close()
    }
}

/// The demo's own failures (a missing binary, a server that did not start).
struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
