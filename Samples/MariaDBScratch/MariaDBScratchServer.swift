import CMariaDB
import Glibc
import Synchronization

/// A throwaway MariaDB server for tests and samples: a fresh data directory under `/tmp`, a
/// loopback port, a user with a password and an empty database, removed again by ``stop()``.
///
/// Everything here blocks the calling thread (it spawns `mariadb-install-db` and `mariadbd`
/// and waits for them): call it before a hub runs, never on one. A watchdog shell kills the
/// server and removes its directory if this process dies without calling ``stop()``.
public final class MariaDBScratchServer: Sendable {
    /// The loopback port the server listens on (127.0.0.1).
    public let port: Int
    /// The server's Unix socket (root connects through it without a password).
    public let socketPath: String
    /// The temporary directory holding the data directory, socket and log.
    public let directory: String
    /// The server's own tmpdir, inside ``directory``.
    var temporaryDirectory: String { directory + "/tmp" }
    /// The user the server was given, with ``password``, allowed everything.
    public let user = "weave"
    /// The password of ``user``.
    public let password = "weave-secret"
    /// An empty database created for ``user``.
    public let database = "weave"

    private struct Processes {
        var server: pid_t = 0
        var watchdog: pid_t = 0
    }
    private let processes = Mutex(Processes())
    /// More `mariadbd` options, given to ``start(serverArguments:)``.
    private let serverArguments: [String]

    private init(port: Int, directory: String, serverArguments: [String]) {
        self.port = port
        self.directory = directory
        self.socketPath = directory + "/sock"
        self.serverArguments = serverArguments
    }

    /// Installs a data directory, starts `mariadbd` on a free loopback port, waits until it
    /// answers and creates ``user`` and ``database``.
    ///
    /// Throws ``MariaDBScratchError`` when the binaries are missing (the message says which
    /// Debian packages to install), when a step fails (with the server's log), or when the
    /// server does not answer within 60 seconds.
    ///
    /// - Parameter serverArguments: More `mariadbd` options, such as `--ssl-cert=…`.
    public static func start(serverArguments: [String] = []) throws -> MariaDBScratchServer {
        let installDB = try findBinary("mariadb-install-db")
        _ = try findBinary("mariadbd")
        let server: MariaDBScratchServer
        // Each server has a temporary directory of its own: a mariadbd starting up removes the
        // leftover `#sql*` files in its tmpdir, and with /tmp shared it removed the temporary
        // tables of another server's bootstrap ("Unknown table 'mysql.tmp_user_sys'"). Should the
        // install fail for another reason, it is tried again in a fresh directory, three times.
        var attempt = 1
        while true {
            var template = Array("/tmp/weave-mariadb-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else {
                throw MariaDBScratchError("mkdtemp failed: errno \(errno)")
            }
            let directory = String(cString: made)
            let candidate = MariaDBScratchServer(port: try freePort(), directory: directory, serverArguments: serverArguments)
            guard mkdir(candidate.temporaryDirectory, 0o700) == 0 else {
                throw MariaDBScratchError("mkdir \(candidate.temporaryDirectory) failed: errno \(errno)")
            }
            // Options mariadb-install-db does not know itself go to its bootstrap server.
            let status = try run(installDB, [
                "--no-defaults", "--datadir=\(directory)/data", "--auth-root-authentication-method=normal",
                "--skip-test-db", "--user=\(currentUserName())", "--tmpdir=\(candidate.temporaryDirectory)",
            ], log: directory + "/install.log")
            if status == 0 {
                server = candidate
                break
            }
            let log = readFile(directory + "/install.log")
            candidate.removeDirectory()
            guard attempt < 3 else {
                throw MariaDBScratchError("mariadb-install-db failed (status \(status)), \(attempt) tries:\n\(log)")
            }
            attempt += 1
        }
        do {
            try server.launch()
            try server.bootstrap()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Starts `mariadbd` again on the same data directory and port (after ``kill()``), and
    /// waits until it answers.
    public func restart() throws {
        try launch()
    }

    /// Kills the server at once (`SIGKILL`), as a crash would; the data directory stays, so
    /// ``restart()`` can bring it back.
    public func kill() {
        let pid = processes.withLock { state -> pid_t in
            let pid = state.server
            state.server = 0
            return pid
        }
        guard pid > 0 else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    /// Stops the server (`SIGTERM`, waiting for it to exit) and removes its directory.
    public func stop() {
        let (server, watchdog) = processes.withLock { state -> (pid_t, pid_t) in
            defer { state = Processes() }
            return (state.server, state.watchdog)
        }
        var status: Int32 = 0
        if server > 0 {
            Glibc.kill(server, SIGTERM)
            _ = waitpid(server, &status, 0)
        }
        if watchdog > 0 {
            Glibc.kill(watchdog, SIGKILL)
            _ = waitpid(watchdog, &status, 0)
        }
        removeDirectory()
    }

    /// The process id of the running server (0 when it is not running).
    public var processID: pid_t { processes.withLock { $0.server } }

    private func launch() throws {
        let mariadbd = try Self.findBinary("mariadbd")
        let pid = try Self.spawn(mariadbd, [
            "--no-defaults", "--user=\(Self.currentUserName())", "--datadir=\(directory)/data",
            "--socket=\(socketPath)", "--port=\(port)", "--bind-address=127.0.0.1",
            "--pid-file=\(directory)/mariadbd.pid", "--log-error=\(directory)/error.log", "--tmpdir=\(temporaryDirectory)",
            "--skip-name-resolve", "--innodb-buffer-pool-size=16M", "--max-connections=400",
        ] + serverArguments, log: directory + "/mariadbd.out")
        // The watchdog outlives this process only to clean up after it.
        let watchdog = try Self.spawn("/bin/sh", [
            "-c",
            "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; kill -9 \(pid); rm -rf '\(directory)'",
        ], log: "/dev/null")
        let previousWatchdog = processes.withLock { state -> pid_t in
            let previous = state.watchdog
            state.server = pid
            state.watchdog = watchdog
            return previous
        }
        if previousWatchdog > 0 {
            Glibc.kill(previousWatchdog, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(previousWatchdog, &status, 0)
        }
        try waitUntilAnswering()
    }

    /// Connects as root through the socket until the server answers (60 s at most).
    private func waitUntilAnswering() throws {
        for _ in 0..<600 {
            if let connection = rootConnection() {
                mysql_close(connection)
                return
            }
            var status: Int32 = 0
            let pid = processID
            if pid > 0, waitpid(pid, &status, WNOHANG) == pid {
                processes.withLock { $0.server = 0 }
                throw MariaDBScratchError("mariadbd exited (status \(status)):\n\(Self.readFile(directory + "/error.log"))")
            }
            usleep(100_000)
        }
        throw MariaDBScratchError("mariadbd did not answer within 60 s:\n\(Self.readFile(directory + "/error.log"))")
    }

    private func bootstrap() throws {
        guard let connection = rootConnection() else {
            throw MariaDBScratchError("cannot connect as root through \(socketPath)")
        }
        defer { mysql_close(connection) }
        for statement in [
            "CREATE USER '\(user)'@'%' IDENTIFIED BY '\(password)'",
            "CREATE USER '\(user)'@'localhost' IDENTIFIED BY '\(password)'",
            "GRANT ALL ON *.* TO '\(user)'@'%'",
            "GRANT ALL ON *.* TO '\(user)'@'localhost'",
            "CREATE DATABASE `\(database)` CHARACTER SET utf8mb4",
        ] where mysql_query(connection, statement) != 0 {
            throw MariaDBScratchError("\(statement): \(String(cString: mysql_error(connection)))")
        }
    }

    private func rootConnection() -> UnsafeMutablePointer<MYSQL>? {
        _ = scratchLibraryReady
        guard let handle = mysql_init(nil) else { return nil }
        if mysql_real_connect(handle, nil, "root", nil, nil, 0, socketPath, 0) == nil {
            mysql_close(handle)
            return nil
        }
        return handle
    }

    private func removeDirectory() {
        _ = try? Self.run("/bin/rm", ["-rf", directory], log: "/dev/null")
    }

    private static func findBinary(_ name: String) throws -> String {
        let path = (getenv("PATH").map { String(cString: $0) } ?? "") + ":/usr/sbin:/usr/bin:/sbin"
        for directory in path.split(separator: ":") where access("\(directory)/\(name)", X_OK) == 0 {
            return "\(directory)/\(name)"
        }
        throw MariaDBScratchError(
            "\(name) not found: a real MariaDB server is needed (apt-get install mariadb-server libmariadb-dev)")
    }

    private static func currentUserName() -> String {
        guard let entry = getpwuid(geteuid()) else { return "root" }
        return String(cString: entry.pointee.pw_name)
    }

    /// A port that was free a moment ago (bound to port 0 on loopback, then closed).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MariaDBScratchError("socket failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw MariaDBScratchError("bind to a free port failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), looked up by name:
    /// glibc declares it only for `_GNU_SOURCE`, which Swift's Glibc module is built without.
    private static func closeFrom(_ lowest: Int32, in actions: inout posix_spawn_file_actions_t) throws {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        // RTLD_DEFAULT is the null handle in glibc.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw MariaDBScratchError("this glibc has no posix_spawn_file_actions_addclosefrom_np (2.34 or later needed)")
        }
        let status = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
        guard status == 0 else { throw MariaDBScratchError("posix_spawn_file_actions_addclosefrom_np failed: errno \(status)") }
    }

    private static func spawn(_ path: String, _ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Only 0, 1 and 2: descriptors the calling process's other threads have open (without
        // close-on-exec) must not live on in a server that outlives them.
        try closeFrom(3, in: &actions)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard status == 0 else { throw MariaDBScratchError("posix_spawn \(path) failed: errno \(status)") }
        return pid
    }

    private static func run(_ path: String, _ arguments: [String], log: String) throws -> Int32 {
        let pid = try spawn(path, arguments, log: log)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    private static func readFile(_ path: String) -> String {
        guard let file = fopen(path, "r") else { return "(no \(path))" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Initialises Connector/C once, before any thread uses it (`mysql_init` would otherwise do it
/// unsynchronised).
private let scratchLibraryReady: Bool = mysql_server_init(0, nil, nil) == 0

/// A scratch server could not be set up.
public struct MariaDBScratchError: Error, CustomStringConvertible, Sendable {
    /// What failed, with the server's log where there is one.
    public let description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
