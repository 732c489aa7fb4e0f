import Foundation
import Glibc
import WeaveRedis
import WeaveTLS
import WeaveTestSupport

/// A redis-server of the tests' own: started on 127.0.0.1 at a free port, in a temporary
/// directory, without persistence, and killed by its pid. With TLS it also listens on a TLS
/// port with the shared test CA's server certificate (clients need no certificate).
final class RedisServerProcess: @unchecked Sendable {
    static let executable = "/usr/bin/redis-server"

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    let port: Int
    /// The TLS port, when started with TLS.
    let tlsPort: Int?
    let directory: String
    private(set) var pid: pid_t = 0
    /// Kills the server if this test process dies first (see ``watchServerProcess(_:)``).
    private var watchdog: pid_t = 0

    var configuration: RedisConfiguration {
        RedisConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(10), commandTimeout: .seconds(30))
    }

    /// The TLS port, the client trusting the test CA (the certificate names 127.0.0.1).
    var tlsConfiguration: RedisConfiguration {
        get throws {
            let authority = try TestCertificateAuthority.shared()
            var configuration = configuration
            configuration.port = tlsPort!
            configuration.tls = .client(trustRoots: .pemFile(authority.caFile))
            return configuration
        }
    }

    /// ``configuration`` speaking `version`.
    func configuration(_ version: RedisConfiguration.ProtocolVersion) -> RedisConfiguration {
        var configuration = configuration
        configuration.protocolVersion = version
        return configuration
    }

    /// Starts a server and waits until it answers `PING`. Fails (never skips) without the binary.
    static func start(tls: Bool = false) throws -> RedisServerProcess {
        guard access(executable, X_OK) == 0 else {
            throw StartError(description: "\(executable) not found: these tests need a real Redis (apt-get install redis-server)")
        }
        var lastError: (any Error)?
        // A free port can be taken between finding it and the server binding it: try another.
        for _ in 0..<5 {
            let server = RedisServerProcess(port: try freeLoopbackPort(), tlsPort: tls ? try freeLoopbackPort() : nil)
            do {
                try server.launch()
                return server
            } catch {
                server.stop()
                lastError = error
            }
        }
        throw lastError!
    }

    private init(port: Int, tlsPort: Int?) {
        self.port = port
        self.tlsPort = tlsPort
        var template = Array("/tmp/weave-redis-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Starts the process (again, after ``kill()``) on the same port and waits for it.
    func launch() throws {
        var arguments = [
            Self.executable, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory, "--daemonize", "no", "--logfile", "\(directory)/redis.log", "--protected-mode", "no",
        ]
        if let tlsPort {
            // The plain port stays open for the readiness check.
            let authority = try TestCertificateAuthority.shared()
            arguments += ["--tls-port", String(tlsPort), "--tls-cert-file", authority.serverCertificateFile,
                          "--tls-key-file", authority.serverKeyFile, "--tls-ca-cert-file", authority.caFile,
                          "--tls-auth-clients", "no"]
        }
        let child = try spawnServerProcess(Self.executable, arguments: Array(arguments.dropFirst()))
        watchdog = try watchServerProcess(child)
        pid = child
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if ping() { return }
            var exitStatus: Int32 = 0
            if waitpid(child, &exitStatus, WNOHANG) == child {
                pid = 0
                stopServerWatchdog(watchdog)
                watchdog = 0
                let log = (try? String(contentsOfFile: "\(directory)/redis.log", encoding: .utf8)) ?? ""
                throw StartError(description: "redis-server exited at start (status \(exitStatus)): \(log.suffix(500))")
            }
            usleep(10_000)
        }
        throw StartError(description: "redis-server on port \(port) did not answer within 10 s")
    }

    /// Kills the server at once (SIGKILL) and reaps it; the directory stays for ``launch()``.
    func kill() {
        guard pid > 0 else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        stopServerWatchdog(watchdog)
        watchdog = 0
    }

    /// Kills the server and removes its directory.
    func stop() {
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Whether the server answers `PING` now (plain blocking sockets, off any hub).
    private func ping() -> Bool {
        loopbackExchange(port: port, request: Array("PING\r\n".utf8), timeoutSeconds: 1)?.starts(with: Array("+PONG\r\n".utf8)) ?? false
    }
}

/// Runs `body` with a server of its own, stopped (killed by pid) however `body` ends.
/// With `tls`, the server listens on ``RedisServerProcess/tlsPort`` too.
func withRedisServer<T: Sendable>(tls: Bool = false, _ body: (RedisServerProcess) async throws -> T) async throws -> T {
    let server = try RedisServerProcess.start(tls: tls)
    do {
        let value = try await body(server)
        server.stop()
        return value
    } catch {
        server.stop()
        throw error
    }
}
