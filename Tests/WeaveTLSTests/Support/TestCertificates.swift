import Glibc
import Synchronization
import WeaveTestSupport

/// A CA and certificates made with the `openssl` command line into a temporary directory,
/// once per test process (ECDSA P-256): a valid server certificate for `localhost` and
/// 127.0.0.1 signed by the CA, an expired one, one for another host, and one signed by a CA
/// the clients do not trust. The directory is removed when the process exits.
struct TestCertificates: Sendable {
    let directory: String

    var caFile: String { "\(directory)/ca.pem" }
    /// (certificate, key) paths for a server certificate of `kind`.
    func server(_ kind: Kind) -> (certificate: String, key: String) {
        ("\(directory)/\(kind.rawValue).pem", "\(directory)/\(kind.rawValue).key")
    }

    enum Kind: String, Sendable, CaseIterable {
        /// For localhost and 127.0.0.1, signed by the CA.
        case valid
        /// For localhost, signed by the CA, past its notAfter.
        case expired
        /// For wrong.example only, signed by the CA.
        case wrongHost
        /// For localhost, signed by another CA.
        case unknownAuthority
    }

    private static let cache = Mutex<TestCertificates?>(nil)

    /// The process's certificates, made on first use (blocks the calling thread for that).
    static func shared() throws -> TestCertificates {
        try cache.withLock { cached in
            if let cached { return cached }
            let made = try make()
            cached = made
            return made
        }
    }

    private static func make() throws -> TestCertificates {
        var template = Array("/tmp/weave-tls-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw CertificateError("mkdtemp failed: errno \(errno)") }
        let directory = String(cString: created)
        certificateDirectory.withLock { $0 = directory }
        atexit { certificateDirectory.withLock { if let directory = $0 { removeDirectory(directory) } } }
        let certificates = TestCertificates(directory: directory)
        try certificates.makeAuthority("ca", name: "Weave Test CA")
        try certificates.makeAuthority("otherca", name: "Untrusted Test CA")
        try certificates.makeLeaf(.valid, commonName: "localhost", names: "DNS:localhost,IP:127.0.0.1", days: 30, signer: "ca", serial: 2)
        try certificates.makeLeaf(.expired, commonName: "localhost", names: "DNS:localhost,IP:127.0.0.1", days: -1, signer: "ca", serial: 3)
        try certificates.makeLeaf(.wrongHost, commonName: "wrong.example", names: "DNS:wrong.example", days: 30, signer: "ca", serial: 4)
        try certificates.makeLeaf(.unknownAuthority, commonName: "localhost", names: "DNS:localhost,IP:127.0.0.1", days: 30,
                                  signer: "otherca", serial: 5)
        return certificates
    }

    private func makeAuthority(_ file: String, name: String) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "\(directory)/\(file).key", "-out", "\(directory)/\(file).pem", "-days", "30",
                     "-subj", "/CN=\(name)", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    }

    private func makeLeaf(_ kind: Kind, commonName: String, names: String, days: Int, signer: String, serial: Int) throws {
        let (certificate, key) = server(kind)
        let request = "\(directory)/\(kind.rawValue).csr"
        let extensions = "\(directory)/\(kind.rawValue).ext"
        try write("subjectAltName=\(names)\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n",
                  to: extensions)
        try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", key, "-out", request, "-subj", "/CN=\(commonName)"])
        // A negative -days gives a notAfter before now: an expired certificate.
        try openssl(["x509", "-req", "-in", request, "-CA", "\(directory)/\(signer).pem", "-CAkey", "\(directory)/\(signer).key",
                     "-set_serial", "\(serial)", "-days", "\(days)", "-extfile", extensions, "-out", certificate])
    }

    /// Runs `openssl` with `arguments`, its output into the directory's openssl.log.
    private func openssl(_ arguments: [String]) throws {
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
        guard status == 0 else { throw CertificateError("cannot run openssl (is it installed?): errno \(status)") }
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
        guard exitStatus == 0 else {
            throw CertificateError("openssl \(arguments.joined(separator: " ")) failed (status \(exitStatus)); see \(directory)/openssl.log")
        }
    }

    private func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CertificateError("cannot create \(path)") }
        defer { close(fd) }
        var text = text
        let written = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == text.utf8.count else { throw CertificateError("cannot write \(path)") }
    }

    /// Reads a file made here (for the tests that pass PEM bytes).
    func contents(of path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw CertificateError("cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }
}

/// The directory to remove at exit.
private let certificateDirectory = Mutex<String?>(nil)

private func removeDirectory(_ path: String) {
    guard let directory = opendir(path) else { return }
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        if name != "." && name != ".." { unlink("\(path)/\(name)") }
    }
    closedir(directory)
    rmdir(path)
}

struct CertificateError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
