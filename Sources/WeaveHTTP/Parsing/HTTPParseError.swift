/// A message that breaks HTTP/1.1's syntax or framing rules (RFC 9112), found by WeaveHTTP's
/// parser.
///
/// Match on ``code``; ``status`` is the response a server answers such a request with (400,
/// 413, 431, 501 or 505), and ``offset`` says where in the message the parser stopped.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, for matching.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: UInt8, Hashable, Sendable {
            case invalidRequestLine, invalidMethod, invalidTarget, invalidVersion, unsupportedVersion
            case invalidStatusLine, invalidFieldName, invalidFieldValue, obsoleteLineFolding, bareLineFeed
            case headTooLarge, tooManyFields, missingHost, multipleHosts
            case invalidContentLength, conflictingContentLength, contentLengthWithTransferEncoding
            case transferEncodingNotChunked, unsupportedTransferCoding, transferEncodingInHTTP10
            case invalidChunkSize, chunkSizeTooLarge, invalidChunkFraming, chunkLineTooLong, trailersTooLarge
            case invalidTrailer
        }

        let storage: Storage

        /// The request line is not `method SP request-target SP HTTP-version`.
        public static let invalidRequestLine = Code(storage: .invalidRequestLine)
        /// The method is empty or not a token.
        public static let invalidMethod = Code(storage: .invalidMethod)
        /// The request target holds a space, a control or a non-ASCII byte, or does not fit the method.
        public static let invalidTarget = Code(storage: .invalidTarget)
        /// The version is not of the form `HTTP/d.d`.
        public static let invalidVersion = Code(storage: .invalidVersion)
        /// A well-formed version other than HTTP/1.0 and HTTP/1.1 (a server answers 505).
        public static let unsupportedVersion = Code(storage: .unsupportedVersion)
        /// The status line is not `HTTP-version SP 3DIGIT SP reason-phrase`.
        public static let invalidStatusLine = Code(storage: .invalidStatusLine)
        /// A field name is empty, not a token, or followed by whitespace before its colon.
        public static let invalidFieldName = Code(storage: .invalidFieldName)
        /// A field value holds a control character (a bare CR or NUL, say).
        public static let invalidFieldValue = Code(storage: .invalidFieldValue)
        /// A field line starts with whitespace: obsolete line folding, which RFC 9112 lets a
        /// server reject and which this parser always does.
        public static let obsoleteLineFolding = Code(storage: .obsoleteLineFolding)
        /// A line ends in LF without CR.
        public static let bareLineFeed = Code(storage: .bareLineFeed)
        /// The head is longer than the parser's limit (a server answers 431).
        public static let headTooLarge = Code(storage: .headTooLarge)
        /// The head has more field lines than the parser's limit (a server answers 431).
        public static let tooManyFields = Code(storage: .tooManyFields)
        /// An HTTP/1.1 request without a `Host` field.
        public static let missingHost = Code(storage: .missingHost)
        /// A request with more than one `Host` field.
        public static let multipleHosts = Code(storage: .multipleHosts)
        /// A `Content-Length` that is not a non-negative decimal number that fits in 63 bits.
        public static let invalidContentLength = Code(storage: .invalidContentLength)
        /// `Content-Length` fields (or list elements) with different values.
        public static let conflictingContentLength = Code(storage: .conflictingContentLength)
        /// Both `Content-Length` and `Transfer-Encoding`: the framing is ambiguous (request smuggling).
        public static let contentLengthWithTransferEncoding = Code(storage: .contentLengthWithTransferEncoding)
        /// A request whose `Transfer-Encoding` does not end in exactly one `chunked`.
        public static let transferEncodingNotChunked = Code(storage: .transferEncodingNotChunked)
        /// A transfer coding other than `chunked` (gzip, say), which this parser does not
        /// decode (a server answers 501).
        public static let unsupportedTransferCoding = Code(storage: .unsupportedTransferCoding)
        /// `Transfer-Encoding` in an HTTP/1.0 message, whose framing RFC 9112 calls faulty.
        public static let transferEncodingInHTTP10 = Code(storage: .transferEncodingInHTTP10)
        /// A chunk size line that does not start with a hexadecimal number.
        public static let invalidChunkSize = Code(storage: .invalidChunkSize)
        /// A chunk size past 2^62 (or too many digits).
        public static let chunkSizeTooLarge = Code(storage: .chunkSizeTooLarge)
        /// Chunk data not followed by CRLF, or a chunk line not ended by CRLF.
        public static let invalidChunkFraming = Code(storage: .invalidChunkFraming)
        /// A chunk size line (with its extensions) longer than the decoder's limit.
        public static let chunkLineTooLong = Code(storage: .chunkLineTooLong)
        /// The trailer section is longer than the decoder's limit.
        public static let trailersTooLarge = Code(storage: .trailersTooLarge)
        /// A trailer line that is not a field line.
        public static let invalidTrailer = Code(storage: .invalidTrailer)

        public var description: String { "\(storage)" }
    }

    /// What was wrong.
    public let code: Code
    /// The offset, in bytes from the start of the head (or of the chunked body), where the
    /// parser found the fault.
    public let offset: Int

    package init(_ code: Code, at offset: Int) {
        self.code = code
        self.offset = offset
    }

    /// The status code a server answers a request that failed with this error: 431 for a
    /// head over the limits, 501 for a transfer coding it does not implement, 505 for an
    /// HTTP version other than 1.x, else 400.
    public var status: Int {
        switch code.storage {
        case .headTooLarge, .tooManyFields: 431
        case .unsupportedTransferCoding: 501
        case .unsupportedVersion: 505
        default: 400
        }
    }

    public var description: String { "malformed HTTP message: \(code) at byte \(offset)" }
}
