import WeaveCore

/// The storage of a ``ManagedDictionary``, in the owning process.
final class ManagedDictionaryHost<Key: Codable & Hashable & Sendable, Value: Codable & Sendable>: ManagerHost {
    static var setOp: UInt8 { 1 }
    static var getOp: UInt8 { 2 }
    static var snapshotOp: UInt8 { 3 }

    var storage: [Key: Value] = [:]

    init(label: String) {
        super.init(label: label, maximumFrameSize: ProcessPool.defaultMaximumFrameSize)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        do {
            return try BinaryDecoder().decode(T.self, from: bytes)
        } catch {
            throw ProcessError(.malformedFrame, "ManagedDictionary: an answer does not decode as \(T.self): \(error)")
        }
    }

    override func handle(_ request: ManagerRequest) {
        switch request.op {
        case Self.setOp:
            guard let entry = request.decode(ManagedDictionary<Key, Value>.Entry.self) else { return }
            storage[entry.key] = entry.value
            request.reply()
        case Self.getOp:
            guard let key = request.decode(Key.self) else { return }
            request.reply(encoding: storage[key])
        case Self.snapshotOp:
            request.reply(encoding: storage)
        default:
            super.handle(request)
        }
    }
}
