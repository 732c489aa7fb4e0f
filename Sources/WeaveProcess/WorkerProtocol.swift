import WeaveCore

/// The messages between a process pool (or a child's parent) and a worker, one frame each.
///
/// ```
/// ready       0x05  pid:varint                                 (worker → parent, first)
/// run         0x01  taskID:varint  name:string  count:varint  task:value × count
/// runBitwise  0x07  taskID:varint  name:string  count:varint  task:bytes × count
/// initialize  0x04  name:string    count:varint task:value    (answered with taskID 0)
/// started     0x06  taskID:varint                             (worker → parent)
/// succeeded   0x02  taskID:varint  output:value × count           (output:bytes × count
///                                                                  for runBitwise)
/// failed      0x03  taskID:varint  code:u8  type:string  message:string  [error:value]
/// ```
/// Strings are a varint length and UTF-8; values are ``BinaryFormat``; bytes are a
/// ``BitwiseProcessTask`` (or its output) as laid out in memory, `MemoryLayout.stride`
/// bytes each, unaligned.
///
/// A worker runs its tasks in the order it received them, and before the first line of a
/// task runs, it has handed the kernel the answers to every earlier task and a `started`
/// frame for this one (one write). So when a worker dies, whatever it wrote is still in
/// the parent's socket: the parent knows exactly which task was running (started, not
/// answered), which finished, and which never started and can safely run elsewhere.
///
/// A `failed` frame of a thrown error ends with the error itself when its type is
/// `Encodable` (``RemoteError``). The field is optional at the end of the frame, so a
/// reader that does not know it ignores it and one that does finds none in an older frame.
enum WorkerProtocol {
    static let run: UInt8 = 0x01
    static let succeeded: UInt8 = 0x02
    static let failed: UInt8 = 0x03
    static let initialize: UInt8 = 0x04
    static let ready: UInt8 = 0x05
    static let started: UInt8 = 0x06
    static let runBitwise: UInt8 = 0x07

    /// Why a task failed in the worker, as sent back.
    struct Failure: Error {
        enum Kind: UInt8 { case thrown = 0, unregisteredTask = 1, malformedFrame = 2, frameTooLarge = 3 }
        let kind: Kind
        let type: String
        let message: String
        /// The thrown error in ``BinaryFormat``, when its type is `Encodable`.
        let encoded: [UInt8]?

        init(_ kind: Kind, type: String, message: String, encoded: [UInt8]? = nil) {
            self.kind = kind
            self.type = type
            self.message = message
            self.encoded = encoded
        }

        /// What a task threw, to send back: its type's name, its description and, when it
        /// is `Encodable` and fits in `maximumFrameSize` with the rest, the error itself.
        init(thrown error: any Error, maximumFrameSize: Int) {
            let type = String(reflecting: Swift.type(of: error))
            let message = String(describing: error)
            var encoded: [UInt8]?
            if let encodable = error as? any Encodable {
                // An error that fails to encode still comes back by name and description.
                encoded = try? BinaryEncoder().encode(encodable)
                // 64 bytes: the frame's length, kind, task id, code and string lengths.
                if let bytes = encoded, bytes.count + type.utf8.count + message.utf8.count + 64 > maximumFrameSize { encoded = nil }
            }
            self.init(.thrown, type: type, message: message, encoded: encoded)
        }

        /// The ``RemoteError`` a parent reports for a thrown error.
        var remote: RemoteError { RemoteError(typeName: type, description: message, encoded: encoded) }

        /// Reads the fields after a `failed` frame's task id.
        static func read(_ cursor: inout Cursor) throws -> Failure {
            let code = try cursor.byte()
            let type = try cursor.string()
            let message = try cursor.string()
            let encoded = cursor.position < cursor.bytes.count ? [UInt8](cursor.rest) : nil
            return Failure(Kind(rawValue: code) ?? .thrown, type: type, message: message, encoded: encoded)
        }
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        value.withUTF8 { utf8 in
            appendVarint(UInt64(utf8.count), to: &bytes)
            bytes.append(contentsOf: utf8)
        }
    }

    static func appendFailure(taskID: UInt64, _ failure: Failure, to bytes: inout [UInt8]) {
        bytes.append(failed)
        appendVarint(taskID, to: &bytes)
        bytes.append(failure.kind.rawValue)
        appendString(failure.type, to: &bytes)
        appendString(failure.message, to: &bytes)
        if let encoded = failure.encoded { bytes.append(contentsOf: encoded) }
    }

    /// Reads a frame's fields in order; every read is bounds-checked.
    struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[position...]) }

        mutating func byte() throws -> UInt8 {
            guard position < bytes.count else { throw Cursor.truncated }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let byte = try self.byte()
                guard shift < 64 else { throw Cursor.truncated }
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
        }

        mutating func string() throws -> String {
            guard let text = String(validating: try stringBytes().assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
                throw Cursor.truncated
            }
            return text
        }

        /// A string's bytes, unchecked and not copied (valid while the frame is).
        mutating func stringBytes() throws -> UnsafeRawBufferPointer {
            let length = try varint()
            guard length <= UInt64(bytes.count - position) else { throw Cursor.truncated }
            let range = position..<(position + Int(length))
            position += Int(length)
            return UnsafeRawBufferPointer(rebasing: bytes[range])
        }

        static let truncated = ProcessError(.malformedFrame, "truncated or invalid frame")
    }
}
