import Foundation
import Glibc
import WeaveTestSupport
import Testing

// Shared by the WeaveAMQP and WeaveDistributed test targets.

/// A RabbitMQ broker of the tests' own: its own epmd, node name, data, log and config in a
/// temporary directory, listening on free loopback ports, stopped by pid. Several suites
/// (and several test processes) can run brokers side by side.
public final class RabbitMQBroker: @unchecked Sendable {
    public static let executable = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    public static let epmdExecutable = "/usr/bin/epmd"

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    /// The AMQP port.
    public let port: Int
    public let distributionPort: Int
    public let epmdPort: Int
    public let directory: String
    public let nodeName: String
    public private(set) var pid: pid_t = 0
    private var epmdPID: pid_t = 0

    /// `amqp://guest:guest@127.0.0.1:<port>/`.
    public var url: String { "amqp://guest:guest@127.0.0.1:\(port)/" }

    /// The files of a TLS listener: the CA, the broker's certificate and its key (PEM).
    public struct TLSFiles: Sendable {
        public var caCertificate: String
        public var certificate: String
        public var privateKey: String
        public init(caCertificate: String, certificate: String, privateKey: String) {
            self.caCertificate = caCertificate
            self.certificate = certificate
            self.privateKey = privateKey
        }
    }

    /// Makes a TLS listener's files in the directory given (the broker's, removed with it).
    public typealias TLSFilesMaker = @Sendable (_ directory: String) throws -> TLSFiles

    /// The AMQPS port and the listener's files, for a broker started with TLS.
    public let tlsPort: Int?
    public let tlsFiles: TLSFiles?

    /// `amqps://guest:guest@127.0.0.1:<tlsPort>/` for a broker started with TLS.
    public var tlsURL: String? { tlsPort.map { "amqps://guest:guest@127.0.0.1:\($0)/" } }

    /// Starts a broker and waits (at most 90 s) until it answers the AMQP protocol header.
    /// Fails (never skips) without the binaries. With `tls`, it also listens for AMQPS on
    /// ``tlsPort`` with the files `tls` makes (it asks for no client certificate).
    public static func start(tls: TLSFilesMaker? = nil) throws -> RabbitMQBroker {
        guard access(executable, X_OK) == 0, access(epmdExecutable, X_OK) == 0 else {
            throw StartError(description: "\(executable) not found: these tests need a real RabbitMQ (apt-get install rabbitmq-server)")
        }
        var lastError: (any Error)?
        // A free port can be taken between finding it and the broker binding it: try others.
        for _ in 0..<3 {
            let broker = try RabbitMQBroker(tls: tls)
            do {
                try broker.startEPMD()
                try broker.launch()
                return broker
            } catch {
                broker.stop()
                lastError = error
            }
        }
        throw lastError!
    }

    private init(tls: TLSFilesMaker? = nil) throws {
        var ports: Set<Int> = []
        while ports.count < (tls == nil ? 3 : 4) { ports.insert(try freeLoopbackPort()) }
        let list = Array(ports)
        port = list[0]
        distributionPort = list[1]
        epmdPort = list[2]
        tlsPort = tls == nil ? nil : list[3]
        var template = Array("/tmp/weave-rabbitmq-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        nodeName = "weave-\(getpid())-\(port)@localhost"
        // Loopback only; guest may log in from there; no disk alarm on a crowded /tmp.
        var config = """
            listeners.tcp.default = 127.0.0.1:\(port)
            loopback_users = none
            disk_free_limit.absolute = 1MB
            log.file.level = warning
            """
        if let tls, let tlsPort {
            let files = try tls(directory)
            tlsFiles = files
            config += """

                listeners.ssl.default = 127.0.0.1:\(tlsPort)
                ssl_options.cacertfile = \(files.caCertificate)
                ssl_options.certfile = \(files.certificate)
                ssl_options.keyfile = \(files.privateKey)
                ssl_options.verify = verify_none
                ssl_options.fail_if_no_peer_cert = false
                """
        } else {
            tlsFiles = nil
        }
        try config.write(toFile: "\(directory)/rabbitmq.conf", atomically: true, encoding: .utf8)
        try "[].\n".write(toFile: "\(directory)/enabled_plugins", atomically: true, encoding: .utf8)
    }

    /// The environment the broker runs in: everything it writes goes under ``directory``
    /// (its Erlang cookie too, through HOME).
    private var environment: [String] {
        var variables = [
            "HOME=\(directory)",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
            "RABBITMQ_NODE_PORT=\(port)",
            "RABBITMQ_DIST_PORT=\(distributionPort)",
            "RABBITMQ_NODENAME=\(nodeName)",
            "RABBITMQ_MNESIA_BASE=\(directory)/mnesia",
            "RABBITMQ_LOG_BASE=\(directory)/log",
            "RABBITMQ_CONFIG_FILE=\(directory)/rabbitmq.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE=\(directory)/enabled_plugins",
            "RABBITMQ_CONF_ENV_FILE=\(directory)/rabbitmq-env.conf",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_PORT=\(epmdPort)",
            "ERL_EPMD_ADDRESS=127.0.0.1",
        ]
        if let home = ProcessInfo.processInfo.environment["TMPDIR"] { variables.append("TMPDIR=\(home)") }
        return variables
    }

    /// The broker's own epmd, in the foreground as this process's child, so that it can be
    /// stopped by pid (an epmd the broker started itself would daemonize).
    private func startEPMD() throws {
        epmdPID = try spawn(Self.epmdExecutable, ["-port", String(epmdPort), "-address", "127.0.0.1"], log: "\(directory)/epmd.log")
        // Listening before the broker looks for it (else the broker starts a daemon of its own).
        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(port: epmdPort) {
            guard Date() < deadline else { throw StartError(description: "epmd on port \(epmdPort) did not start") }
            usleep(20_000)
        }
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Starts the broker (again, after ``shutDown()``) on the same ports and data and waits for it.
    public func launch() throws {
        pid = try spawn(Self.executable, [], log: "\(directory)/broker.log")
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            if answersAMQP() { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                let log = (try? String(contentsOfFile: "\(directory)/broker.log", encoding: .utf8)) ?? ""
                throw StartError(description: "rabbitmq-server exited at start (status \(status)): \(log.suffix(1500))")
            }
            usleep(100_000)
        }
        throw StartError(description: "rabbitmq-server on port \(port) did not answer within 90 s")
    }

    /// Runs `executable` under a small shell that stops it (SIGTERM, then waits) when told
    /// to with SIGTERM, and also when this test process is gone: a crashed test run leaves
    /// no broker behind.
    /// (It runs in HOME, the broker's directory, where crash dumps then land.)
    private static let supervisor = """
        cd "$HOME" || exit 1
        "$@" & child=$!
        trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM
        while kill -0 $WEAVE_TEST_PARENT 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done
        kill -TERM $child 2>/dev/null; wait $child
        """

    private func spawn(_ executable: String, _ arguments: [String], log: String) throws -> pid_t {
        try spawnDirectly("/bin/sh", ["-c", Self.supervisor, "sh", executable] + arguments, log: log)
    }

    private func spawnDirectly(_ executable: String, _ arguments: [String], log: String) throws -> pid_t {
        // A clean signal state (see spawnServerProcess): the broker's start script must see
        // the SIGTERM that stops it. A process group of its own: a broker too slow to stop is
        // killed with its start script and supervisor (see terminate).
        try spawnServerProcess(executable, arguments: arguments, log: log,
                               environment: environment + ["WEAVE_TEST_PARENT=\(getpid())"], newProcessGroup: true)
    }

    /// Stops the broker gracefully (SIGTERM to the start script, which stops the VM and waits
    /// for it), then by SIGKILL if it has not stopped within 60 s. Data stays for ``launch()``.
    public func shutDown() {
        guard pid > 0 else { return }
        Self.terminate(pid, grace: 60)
        pid = 0
    }

    /// Runs `rabbitmqctl` against this broker (its node, cookie and epmd) and waits for it.
    /// Blocks the calling thread for the few seconds an Erlang VM takes to start.
    public func control(_ arguments: [String]) throws {
        let log = "\(directory)/rabbitmqctl.log"
        let child = try spawnDirectly("/usr/lib/rabbitmq/bin/rabbitmqctl", ["-n", nodeName] + arguments, log: log)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        guard status == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw StartError(description: "rabbitmqctl \(arguments.joined(separator: " ")) failed (status \(status)): \(output.suffix(800))")
        }
    }

    /// Stops the broker and then starts it again on the same ports and data.
    public func restart() throws {
        shutDown()
        try launch()
    }

    /// Stops the broker and its epmd and removes the directory.
    public func stop() {
        shutDown()
        if epmdPID > 0 {
            Self.terminate(epmdPID, grace: 5)
            epmdPID = 0
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// SIGTERM to the supervisor `pid` (which stops what it runs and waits for it); after
    /// `grace`, SIGKILL to its whole process group. Killing the supervisor alone once left a
    /// broker that was still stopping (a loaded machine) running with no parent.
    private static func terminate(_ pid: pid_t, grace: Double) {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(-pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    /// Whether the broker answers the AMQP 0-9-1 header with a method frame now.
    private func answersAMQP() -> Bool {
        loopbackExchange(port: port, request: [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1], limit: 1)?.first == 1
    }

    /// The broker of the suite running now (set by ``RabbitMQBrokerTrait``).
    @TaskLocal public static var current: RabbitMQBroker?

    /// The suite's broker; fails the test when the suite has none.
    public static var suite: RabbitMQBroker {
        get throws {
            guard let current else { throw StartError(description: "no broker: put the suite under .rabbitMQBroker") }
            return current
        }
    }
}

/// Gives a suite a broker of its own, started before its first test and stopped after its
/// last: `@Suite(.rabbitMQBroker)`.
public struct RabbitMQBrokerTrait: SuiteTrait, TestScoping {
    /// Makes the files of a TLS listener, for a broker that also speaks AMQPS.
    var tls: RabbitMQBroker.TLSFilesMaker?

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let tls = tls
        let broker = try await onThreadOfItsOwn { try RabbitMQBroker.start(tls: tls) }
        do {
            try await RabbitMQBroker.$current.withValue(broker) { try await function() }
        } catch {
            try? await onThreadOfItsOwn { broker.stop() }
            throw error
        }
        try await onThreadOfItsOwn { broker.stop() }
    }
}

extension Trait where Self == RabbitMQBrokerTrait {
    /// A broker of the suite's own; see ``RabbitMQBrokerTrait``.
    public static var rabbitMQBroker: RabbitMQBrokerTrait { RabbitMQBrokerTrait() }

    /// A broker of the suite's own that also listens for AMQPS with the files `tls` makes.
    public static func rabbitMQBroker(tls: @escaping RabbitMQBroker.TLSFilesMaker) -> RabbitMQBrokerTrait {
        RabbitMQBrokerTrait(tls: tls)
    }
}

/// Runs `body` with a broker of its own (for tests that restart it), stopped however `body` ends.
public func withRabbitMQBroker<T: Sendable>(_ body: (RabbitMQBroker) async throws -> T) async throws -> T {
    let broker = try await onThreadOfItsOwn { try RabbitMQBroker.start() }
    do {
        let result = try await body(broker)
        try await onThreadOfItsOwn { broker.stop() }
        return result
    } catch {
        try? await onThreadOfItsOwn { broker.stop() }
        throw error
    }
}

/// Runs `body` on a thread of its own and waits for it without holding a thread: starting
/// or stopping a broker blocks for seconds, and the few threads every test's async code
/// shares would otherwise stall the tests running beside it.
private func onThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
