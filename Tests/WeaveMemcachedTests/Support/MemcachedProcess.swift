import Glibc
import Weave
import WeaveMemcached
import WeaveTestSupport

/// A real memcached server for one test: started on 127.0.0.1 on a free port with UDP off,
/// waited for until it answers `version`, killed by its pid at ``stop()`` (and by the hub at
/// its shutdown, should a test fail before that). With TLS (`-Z`) it also listens on a TLS
/// port with the shared test CA's server certificate; the plain port stays open.
final class MemcachedProcess {
    let port: Int
    /// The TLS port, when started with TLS.
    let tlsPort: Int?
    private(set) var process: RunningProcess?

    var server: MemcachedServer { try! MemcachedServer(host: "127.0.0.1", port: port) }
    /// The TLS address.
    var tlsServer: MemcachedServer { try! MemcachedServer(host: "127.0.0.1", port: tlsPort!) }

    /// Starts a server on a free port (retrying on another port if the chosen one is taken
    /// between the probe and memcached's bind).
    init(tls: Bool = false) throws {
        var lastError: any Error = TestFailure("memcached did not start")
        for _ in 0..<5 {
            let probe = try TCPListener.bind(host: "127.0.0.1", port: 0)
            let port = probe.localAddress!.port
            let tlsProbe = tls ? try TCPListener.bind(host: "127.0.0.1", port: 0) : nil
            let tlsPort = tlsProbe?.localAddress!.port
            probe.close()
            tlsProbe?.close()
            do {
                process = try Self.launch(port: port, tlsPort: tlsPort)
                self.port = port
                self.tlsPort = tlsPort
                return
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Starts memcached again on the same port (after ``kill()``).
    func restart() throws {
        process = try Self.launch(port: port, tlsPort: tlsPort)
    }

    /// Kills the server now (`SIGKILL`) and reaps it.
    func kill() throws {
        guard let process else { return }
        self.process = nil
        try process.kill()
        _ = try process.wait(timeout: .seconds(10))
        process.close()
    }

    func stop() {
        try? kill()
    }

    /// The memcached binary, or a failure that says how to install it (tests never skip).
    static func executable() throws -> String {
        for candidate in ["/usr/bin/memcached", "/usr/local/bin/memcached", "/usr/sbin/memcached"]
        where access(candidate, X_OK) == 0 {
            return candidate
        }
        throw TestFailure("memcached is not installed: apt-get install memcached")
    }

    private static func launch(port: Int, tlsPort: Int?) throws -> RunningProcess {
        var arguments = ["-l", "127.0.0.1", "-p", "\(port)", "-U", "0", "-t", "2", "-m", "64"]
        if let tlsPort {
            let authority = try TestCertificateAuthority.shared()
            arguments = ["-Z", "-o", "ssl_chain_cert=\(authority.serverCertificateFile),ssl_key=\(authority.serverKeyFile)",
                         "-l", "notls:127.0.0.1:\(port)", "-l", "127.0.0.1:\(tlsPort)", "-U", "0", "-t", "2", "-m", "64"]
        }
        // memcached refuses to run as root without naming the user to run as.
        if getuid() == 0 { arguments += ["-u", "root"] }
        let process = try Command.spawn(try executable(), arguments: arguments, standardInput: .discard,
                                        standardOutput: .discard, standardError: .discard, parentDeathSignal: SIGKILL)
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if process.hasExited { break }
            if answers(port: port) { return process }
            try Coroutine.sleep(for: .milliseconds(20))
        }
        try? process.kill()
        _ = try? process.wait(timeout: .seconds(5))
        process.close()
        throw TestFailure("memcached on port \(port) did not answer within 15 s")
    }

    /// Whether a server on `port` answers `version` with `VERSION ...`.
    private static func answers(port: Int) -> Bool {
        guard let connection = try? TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(1)) else {
            return false
        }
        defer { connection.close() }
        guard (try? connection.write("version\r\n", timeout: .seconds(1))) != nil,
              let line = try? connection.readLine(timeout: .seconds(1)) else { return false }
        return line.hasPrefix("VERSION ")
    }
}

/// Runs `body` with `count` fresh memcached servers, stopping them however it ends.
/// With `tls`, each also listens on its ``MemcachedProcess/tlsPort``.
func withMemcached<R>(_ count: Int = 1, tls: Bool = false, _ body: ([MemcachedProcess]) throws -> R) throws -> R {
    var servers: [MemcachedProcess] = []
    defer { for server in servers { server.stop() } }
    for _ in 0..<count { servers.append(try MemcachedProcess(tls: tls)) }
    return try body(servers)
}

/// This process's TCP sockets connected to `port` on the loopback: the client's own
/// connections to a test's server (each test's server has a port of its own, so parallel
/// tests do not disturb the count). Matches `/proc/self/fd` socket inodes against
/// `/proc/net/tcp`'s established connections whose remote port is `port`.
func openSocketCount(toPort port: Int) -> Int {
    var inodes = Set<String>()
    guard let file = fopen("/proc/net/tcp", "r") else { return -1 }
    var buffer = [CChar](repeating: 0, count: 512)
    let remote = ":" + String(port, radix: 16, uppercase: true).leftPadded(to: 4)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let fields = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .split(separator: " ")
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        guard fields.count > 9, fields[2].hasSuffix(remote), fields[3] == "01" else { continue }
        inodes.insert(String(fields[9]))
    }
    fclose(file)
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let name = String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
        var target = [CChar](repeating: 0, count: 256)
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard length > 0 else { continue }
        let text = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // "socket:[12345]"
        if text.hasPrefix("socket:["), inodes.contains(String(text.dropFirst(8).dropLast())) { count += 1 }
    }
    return count
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
