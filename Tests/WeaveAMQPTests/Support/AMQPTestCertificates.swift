import Glibc
import RabbitMQTestSupport

/// A CA and a broker certificate for `localhost` and 127.0.0.1 signed by it (ECDSA P-256),
/// made with the `openssl` command line into a broker's directory (removed with the broker).
enum AMQPTestCertificates {
    /// Makes the files in `directory`; the shape ``RabbitMQBroker/TLSFilesMaker`` asks for.
    @Sendable static func make(in directory: String) throws -> RabbitMQBroker.TLSFiles {
        let files = RabbitMQBroker.TLSFiles(caCertificate: "\(directory)/ca.pem", certificate: "\(directory)/broker.pem",
                                           privateKey: "\(directory)/broker.key")
        let log = "\(directory)/openssl.log"
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", "\(directory)/ca.key", "-out", files.caCertificate, "-days", "30",
                     "-subj", "/CN=Weave AMQP Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"], log: log)
        let extensions = "\(directory)/broker.ext"
        try write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
                  to: extensions)
        try openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", files.privateKey, "-out", "\(directory)/broker.csr", "-subj", "/CN=localhost"], log: log)
        try openssl(["x509", "-req", "-in", "\(directory)/broker.csr", "-CA", files.caCertificate, "-CAkey", "\(directory)/ca.key",
                     "-set_serial", "2", "-days", "30", "-extfile", extensions, "-out", files.certificate], log: log)
        return files
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `openssl` with `arguments`, its output appended to `log`.
    private static func openssl(_ arguments: [String], log: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (["openssl"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawnp(&pid, "openssl", &actions, nil, argv, environ)
        guard status == 0 else { throw Failure(description: "cannot run openssl (is it installed?): errno \(status)") }
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
        guard exitStatus == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed (status \(exitStatus)); see \(log)")
        }
    }

    private static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path)") }
        defer { close(fd) }
        var text = text
        let written = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == text.utf8.count else { throw Failure(description: "cannot write \(path)") }
    }
}
