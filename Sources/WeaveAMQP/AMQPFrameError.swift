/// Bytes from the broker that do not decode as AMQP 0-9-1 frames: what was wrong and where.
///
/// The connection reports it as ``AMQPError/Code/protocolError`` with this as
/// ``AMQPError/underlying``, then closes, since the stream can no longer be trusted.
public struct AMQPFrameError: Error, CustomStringConvertible, Sendable {
    /// What kind of malformation; more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case truncated, badFrameEnd, unknownFrameType, frameTooLarge, unknownFieldType, unknownMethod
            case unexpectedFrame, invalidString
        }
        let storage: Storage

        /// A field runs past the end of its frame or table.
        public static let truncated = Code(storage: .truncated)
        /// A frame does not end with the frame-end octet 0xCE.
        public static let badFrameEnd = Code(storage: .badFrameEnd)
        /// A frame type other than method, header, body or heartbeat.
        public static let unknownFrameType = Code(storage: .unknownFrameType)
        /// A frame larger than the negotiated `frame-max`.
        public static let frameTooLarge = Code(storage: .frameTooLarge)
        /// A field-table value of a type octet this client does not know.
        public static let unknownFieldType = Code(storage: .unknownFieldType)
        /// A class and method pair the client does not expect from a broker.
        public static let unknownMethod = Code(storage: .unknownMethod)
        /// A frame out of order: a header without its method, a body without its header.
        public static let unexpectedFrame = Code(storage: .unexpectedFrame)
        /// A string field that is not UTF-8.
        public static let invalidString = Code(storage: .invalidString)

        public var description: String { "\(storage)" }
    }

    /// What kind of malformation.
    public let code: Code
    /// What was read and what was expected.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "AMQP frame error (\(code)): \(message)" }
}
