import COpenSSL

/// What a peer's certificate says about whom it was issued to, read after the handshake.
public struct TLSCertificateSummary: Sendable, CustomStringConvertible {
    /// The subject's distinguished name, RFC 2253 style (`CN=localhost,O=Example`).
    public let subject: String
    /// The issuer's distinguished name, RFC 2253 style.
    public let issuer: String
    /// The DNS names and IP addresses of the subjectAltName extension (`DNS:localhost`,
    /// `IP:127.0.0.1`).
    public let alternativeNames: [String]

    /// Reads `certificate` (an `X509 *` the caller keeps owning).
    init(certificate: OpaquePointer) {
        subject = TLSCertificateSummary.text(of: X509_get_subject_name(certificate))
        issuer = TLSCertificateSummary.text(of: X509_get_issuer_name(certificate))
        var names: [String] = []
        if let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) {
            let list = OpaquePointer(raw)
            for index in 0..<OPENSSL_sk_num(list) {
                guard let entry = OPENSSL_sk_value(list, index)?.assumingMemoryBound(to: GENERAL_NAME.self) else { continue }
                switch entry.pointee.type {
                case GEN_DNS:
                    if let name = entry.pointee.d.dNSName, let data = ASN1_STRING_get0_data(name) {
                        names.append("DNS:" + String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(name))), as: UTF8.self))
                    }
                case GEN_IPADD:
                    if let address = entry.pointee.d.iPAddress, let data = ASN1_STRING_get0_data(address) {
                        let bytes = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(address))))
                        names.append("IP:" + TLSCertificateSummary.addressText(bytes))
                    }
                default:
                    break
                }
            }
            GENERAL_NAMES_free(OpaquePointer(raw))
        }
        alternativeNames = names
    }

    public var description: String { "subject \(subject), issuer \(issuer)" }

    private static func text(of name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        _ = X509_NAME_print_ex(bio, name, 0, weave_XN_FLAG_RFC2253())
        var data: UnsafeMutablePointer<CChar>?
        let length = weave_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    private static func addressText(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map { String($0) }.joined(separator: ".") }
        return stride(from: 0, to: bytes.count, by: 2).map { index in
            String((UInt16(bytes[index]) << 8) | UInt16(bytes[min(index + 1, bytes.count - 1)]), radix: 16)
        }.joined(separator: ":")
    }
}
