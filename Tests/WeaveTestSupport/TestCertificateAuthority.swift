import Glibc
import Synchronization

/// A certificate authority and a server certificate it signed, made with the `openssl`
/// command line in a temporary directory once per test process, for test targets that start
/// TLS servers (redis-server, memcached): the server certificate names `localhost` and
/// 127.0.0.1 (ECDSA P-256, valid 30 days). The system's trust store does not know the CA, so
/// a client trusting only the system rejects the server. The directory is removed at exit.
public struct TestCertificateAuthority: Sendable {
    /// Where the files are.
    public let directory: String

    /// The CA's certificate (PEM): what a client should trust.
    public var caFile: String { "\(directory)/ca.pem" }
    /// The server's certificate (PEM), for `localhost` and 127.0.0.1.
    public var serverCertificateFile: String { "\(directory)/server.pem" }
    /// The server certificate's private key (PEM, unencrypted).
    public var serverKeyFile: String { "\(directory)/server.key" }

    private static let cache = Mutex<TestCertificateAuthority?>(nil)

    /// The process's CA and server certificate, made on first use (blocking the calling
    /// thread for the `openssl` runs).
    ///
    /// - Throws: ``TestCertificateError`` when `openssl` is missing or fails (its output is
    ///   in the directory's `openssl.log`).
    public static func shared() throws -> TestCertificateAuthority {
        try cache.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }

    private static func make() throws -> TestCertificateAuthority {
        var template = Array("/tmp/weave-test-ca-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw TestCertificateError("mkdtemp failed: errno \(errno)") }
        let directory = String(cString: created)
        madeDirectory.withLock { $0 = directory }
        atexit { madeDirectory.withLock { if let directory = $0 { removeFiles(in: directory) } } }
        let authority = TestCertificateAuthority(directory: directory)
        try authority.run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", "\(directory)/ca.key", "-out", authority.caFile, "-days", "30",
                           "-subj", "/CN=Weave Test Server CA", "-addext", "basicConstraints=critical,CA:TRUE",
                           "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        let extensions = "\(directory)/server.ext"
        try authority.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                            + "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n", to: extensions)
        try authority.run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", authority.serverKeyFile, "-out", "\(directory)/server.csr", "-subj", "/CN=localhost"])
        try authority.run(["x509", "-req", "-in", "\(directory)/server.csr", "-CA", authority.caFile,
                           "-CAkey", "\(directory)/ca.key", "-set_serial", "2", "-days", "30", "-extfile", extensions,
                           "-out", authority.serverCertificateFile])
        return authority
    }

    /// Runs `openssl` with `arguments`, its output appended to the directory's `openssl.log`.
    private func run(_ arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "\(directory)/openssl.log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (["openssl"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawnp(&pid, "openssl", &actions, nil, argv, environ)
        guard status == 0 else { throw TestCertificateError("cannot run openssl (apt-get install openssl): errno \(status)") }
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
        guard exitStatus == 0 else {
            throw TestCertificateError("openssl \(arguments.joined(separator: " ")) failed (status \(exitStatus)); see \(directory)/openssl.log")
        }
    }

    private func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestCertificateError("cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        var text = text
        let written = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == text.utf8.count else { throw TestCertificateError("cannot write \(path)") }
    }
}

/// Making the test certificates failed.
public struct TestCertificateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The directory to remove at exit.
private let madeDirectory = Mutex<String?>(nil)

private func removeFiles(in path: String) {
    guard let directory = opendir(path) else { return }
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        if name != "." && name != ".." { unlink("\(path)/\(name)") }
    }
    closedir(directory)
    rmdir(path)
}
