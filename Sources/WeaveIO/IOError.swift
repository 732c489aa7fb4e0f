import WeaveCore

/// A socket or stream operation that cannot complete for a reason of Weave's own
/// (libuv's failures are ``UVError``).
public struct IOError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable { case closed, lineTooLong, unexpectedEnd, invalidAddress, noAddress, tooLarge }
        let storage: Storage

        /// The connection (or listener) was closed, by this side, while or before the call.
        public static let closed = Code(storage: .closed)
        /// `readLine` found no newline within `maxLength` bytes.
        public static let lineTooLong = Code(storage: .lineTooLong)
        /// The peer closed the stream before the bytes asked for arrived.
        public static let unexpectedEnd = Code(storage: .unexpectedEnd)
        /// An address string could not be parsed.
        public static let invalidAddress = Code(storage: .invalidAddress)
        /// Name resolution returned no usable address.
        public static let noAddress = Code(storage: .noAddress)
        /// More bytes than the caller allowed (``File/readAll(_:maxSize:timeout:)``).
        public static let tooLarge = Code(storage: .tooLarge)

        public var description: String { "\(storage)" }
    }

    public let code: Code
    public let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
