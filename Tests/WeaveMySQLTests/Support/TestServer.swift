import Glibc
import MariaDBScratch
import Synchronization
import Weave
import WeaveMySQL

/// The MariaDB server the suites share: started once per test run (a data directory under
/// /tmp, a free loopback port, user `weave` with a password), stopped by PID at exit.
/// Missing binaries fail the tests with the packages to install.
enum TestServer {
    private static let shared: Result<MariaDBScratchServer, MariaDBScratchError> = {
        do {
            let server = try MariaDBScratchServer.start()
            running.withLock { $0 = server }
            atexit { TestServer.stopAtExit() }
            return .success(server)
        } catch let error as MariaDBScratchError {
            return .failure(error)
        } catch {
            return .failure(MariaDBScratchError("\(error)"))
        }
    }()

    private static let running = Mutex<MariaDBScratchServer?>(nil)

    private static func stopAtExit() {
        running.withLock { $0 }?.stop()
    }

    /// The shared server, started on first use (blocks the caller for a second or two then).
    static func server() throws -> MariaDBScratchServer { try shared.get() }

    /// A configuration for the shared server's test user and database; called on a hub, it
    /// waits for the first start on the thread pool, so the hub is never blocked.
    static func configuration() throws -> MySQLConfiguration {
        try configuration(for: Hub.current == nil ? server() : blocking { try server() })
    }

    static func configuration(for server: MariaDBScratchServer) -> MySQLConfiguration {
        MySQLConfiguration(
            host: "127.0.0.1", port: server.port, user: server.user, password: server.password,
            database: server.database, connectTimeout: .seconds(20))
    }
}

/// A table name no other test uses.
func uniqueTableName(_ stem: String) -> String {
    "\(stem)_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
}

/// The inodes of this process's open sockets (`socket:[N]` in /proc/self/fd).
func openSocketInodes() -> Set<String> {
    var inodes: Set<String> = []
    guard let directory = opendir("/proc/self/fd") else { return inodes }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let name = String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
        var target = [CChar](repeating: 0, count: 256)
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard length > 0 else { continue }
        let text = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("socket:") { inodes.insert(text) }
    }
    return inodes
}

/// The socket inode behind `fd`.
func socketInode(_ fd: Int32) -> String? {
    var target = [CChar](repeating: 0, count: 256)
    let length = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
    guard length > 0 else { return nil }
    return String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
