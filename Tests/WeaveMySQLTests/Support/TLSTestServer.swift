import Glibc
import MariaDBScratch
import Synchronization
import Weave
import WeaveMySQL
import WeaveTestSupport

/// A second MariaDB server, with TLS (`--ssl-cert`, `--ssl-key`, `--ssl-ca` from the shared
/// test certificate authority), started once per test run for the TLS suite and stopped by
/// PID at exit; the plain ``TestServer`` is the server without TLS.
enum TLSTestServer {
    private static let shared: Result<(MariaDBScratchServer, TestCertificateAuthority), MariaDBScratchError> = {
        do {
            let authority = try TestCertificateAuthority.shared()
            let server = try MariaDBScratchServer.start(serverArguments: [
                "--ssl-ca=\(authority.caFile)", "--ssl-cert=\(authority.serverCertificateFile)",
                "--ssl-key=\(authority.serverKeyFile)",
            ])
            running.withLock { $0 = server }
            atexit { TLSTestServer.running.withLock { $0 }?.stop() }
            return .success((server, authority))
        } catch let error as MariaDBScratchError {
            return .failure(error)
        } catch {
            return .failure(MariaDBScratchError("\(error)"))
        }
    }()

    private static let running = Mutex<MariaDBScratchServer?>(nil)

    /// The TLS server's configuration with `tls` set; called on a hub, it waits for the first
    /// start on the thread pool.
    static func configuration(tls: (TestCertificateAuthority) -> MySQLTLS?) throws -> MySQLConfiguration {
        let (server, authority) = try blocking { try shared.get() }
        var configuration = TestServer.configuration(for: server)
        configuration.tls = tls(authority)
        return configuration
    }
}

/// How many of this process's TCP sockets are connected to `port` on loopback (from
/// /proc/net/tcp, whose inodes are matched against this process's descriptors).
func socketsConnected(toPort port: Int) -> Int {
    guard let file = fopen("/proc/net/tcp", "r") else { return -1 }
    defer { fclose(file) }
    let mine = openSocketInodes()
    let hex = String(port, radix: 16, uppercase: true)
    let remote = "0100007F:" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    var count = 0
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), file) != nil {
        let fields = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(separator: " ", omittingEmptySubsequences: true)
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        guard fields.count > 9, fields[2] == remote, fields[3] != "0A" else { continue }
        if mine.contains("socket:[\(fields[9])]") { count += 1 }
    }
    return count
}
