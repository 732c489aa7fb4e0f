import COpenSSL

/// A TLS handshake, configuration or record failed, with the cause.
///
/// Match on ``code`` (`error.code == .hostnameMismatch`); the codes are an open set, so a
/// later version can add one without breaking a `switch` over them. The details that go with
/// a code travel beside it: ``expectedHostname`` for a hostname mismatch, ``reason`` (OpenSSL's
/// own error strings) for a failed handshake or record, ``verificationResult`` (the
/// `X509_V_ERR_*` number) for any certificate rejection.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case certificateExpired, certificateNotYetValid, unknownCertificateAuthority, hostnameMismatch
            case certificateRejected, handshakeTimedOut, handshakeFailed, peerClosedWithoutCloseNotify
            case protocolFailure, invalidConfiguration, unreadableFile, privateKeyMismatch
        }
        let storage: Storage

        /// The peer's certificate (or one in its chain) is past its `notAfter` date.
        public static let certificateExpired = Code(storage: .certificateExpired)
        /// The peer's certificate (or one in its chain) is not valid yet (`notBefore`).
        public static let certificateNotYetValid = Code(storage: .certificateNotYetValid)
        /// The peer's chain does not lead to a trusted root (self-signed, or signed by a CA
        /// this side does not trust).
        public static let unknownCertificateAuthority = Code(storage: .unknownCertificateAuthority)
        /// The peer's certificate is valid but names neither the host nor the IP address asked
        /// for (``TLSError/expectedHostname``).
        public static let hostnameMismatch = Code(storage: .hostnameMismatch)
        /// The peer's certificate was refused for another reason (``TLSError/verificationResult``
        /// and ``TLSError/reason`` say which).
        public static let certificateRejected = Code(storage: .certificateRejected)
        /// The handshake did not finish within ``TLSConfiguration/handshakeTimeout``.
        public static let handshakeTimedOut = Code(storage: .handshakeTimedOut)
        /// The handshake failed: the peer sent an alert, spoke no TLS, offered nothing in
        /// common, reset or closed the connection (``TLSError/reason``).
        public static let handshakeFailed = Code(storage: .handshakeFailed)
        /// The transport ended without the peer's `close_notify`: the data may be truncated.
        public static let peerClosedWithoutCloseNotify = Code(storage: .peerClosedWithoutCloseNotify)
        /// A record after the handshake was refused (bad MAC, unexpected message, alert).
        public static let protocolFailure = Code(storage: .protocolFailure)
        /// A configuration OpenSSL refused: a bad PEM, an empty or too long ALPN name, the
        /// wrong role for the call.
        public static let invalidConfiguration = Code(storage: .invalidConfiguration)
        /// A certificate, key or CA file could not be read (missing, unreadable).
        public static let unreadableFile = Code(storage: .unreadableFile)
        /// The private key does not belong to the certificate.
        public static let privateKeyMismatch = Code(storage: .privateKeyMismatch)

        public var description: String { "\(storage)" }
    }

    /// What failed.
    public let code: Code
    /// What failed and on what, for a log.
    public let message: String
    /// OpenSSL's error strings or the certificate verifier's, when OpenSSL gave a cause.
    public let reason: String?
    /// The name or address the certificate was checked against, for ``Code/hostnameMismatch``.
    public let expectedHostname: String?
    /// `SSL_get_verify_result`'s `X509_V_ERR_*` code when the peer's certificate was refused.
    public let verificationResult: Int?
    /// The transport's error behind a failed handshake (such as a `UVError` `ECONNRESET`).
    public let underlyingError: (any Error & Sendable)?

    init(
        _ code: Code, _ message: String, reason: String? = nil, expectedHostname: String? = nil,
        verificationResult: Int? = nil, underlyingError: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.reason = reason
        self.expectedHostname = expectedHostname
        self.verificationResult = verificationResult
        self.underlyingError = underlyingError
    }

    public var description: String {
        guard let reason, !message.contains(reason) else { return message }
        return "\(message): \(reason)"
    }

    /// The error for a refused peer certificate: `SSL_get_verify_result`'s code mapped to the
    /// specific cases, the verifier's text as the reason.
    static func verificationFailure(_ result: Int, peer: String, expectedHostname: String?) -> TLSError {
        let reason = String(cString: X509_verify_cert_error_string(result))
        let code: Code
        switch Int32(result) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            code = .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID:
            code = .certificateNotYetValid
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
            code = .unknownCertificateAuthority
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            code = .hostnameMismatch
            let expected = expectedHostname ?? "?"
            return TLSError(code, "TLS handshake with \(peer): certificate does not match \(expected)",
                            reason: reason, expectedHostname: expected, verificationResult: result)
        default:
            code = .certificateRejected
        }
        return TLSError(code, "TLS handshake with \(peer): certificate refused (\(reason))",
                        reason: reason, expectedHostname: expectedHostname, verificationResult: result)
    }

    /// Drains OpenSSL's error queue of this thread into one line ("; "-separated), nil if empty.
    static func drainErrorQueue() -> String? {
        var reasons: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let short = ERR_reason_error_string(code) {
                reasons.append(String(cString: short))
            } else {
                ERR_error_string_n(code, &buffer, buffer.count)
                reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}
