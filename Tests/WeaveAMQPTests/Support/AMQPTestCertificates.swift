import RabbitMQTestSupport
import WeaveTestSupport

/// The broker's TLS files: the test process's CA and its server certificate for `localhost`
/// and 127.0.0.1 (``TestCertificateAuthority``), which the system's trust store does not know.
enum AMQPTestCertificates {
    /// The shape ``RabbitMQBroker/TLSFilesMaker`` asks for; `directory` (the broker's own) is
    /// not needed, the files are the process's.
    @Sendable static func make(in directory: String) throws -> RabbitMQBroker.TLSFiles {
        let authority = try TestCertificateAuthority.shared()
        return RabbitMQBroker.TLSFiles(caCertificate: authority.caFile, certificate: authority.serverCertificateFile,
                                       privateKey: authority.serverKeyFile)
    }
}
