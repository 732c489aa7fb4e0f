import WeaveCore

/// A dictionary held by the process that created it and shared with its children
/// (the `dict` of Python's `multiprocessing.Manager()`).
///
/// ```swift
/// let pids = ManagedDictionary<String, Int32>()
/// // in a child, given `pids` inside its task:
/// try pids.set(getpid(), for: "worker 1")
/// // in the parent:
/// print(try pids.snapshot())
/// ```
///
/// Each call is one round trip to the owning process (none in the owner itself), atomic
/// on its own; combine several under a ``ProcessLock``. There is no subscript setter:
/// a remote write can fail, and Swift setters cannot throw. A handle travels to a child
/// inside a ``ChildProcess`` task, from the owning process only. It is not `Sendable`:
/// once it serves a child (or, in a child, once used) it belongs to that hub, and a use
/// from another thread traps.
public final class ManagedDictionary<Key: Codable & Hashable & Sendable, Value: Codable & Sendable>: Codable {
    private let endpoint: ManagerEndpoint

    /// Creates an empty dictionary, held by this process.
    public init(label: String = "ManagedDictionary") {
        endpoint = ManagerEndpoint(host: ManagedDictionaryHost<Key, Value>(label: label))
    }

    private var host: ManagedDictionaryHost<Key, Value> { endpoint.hostObject as! ManagedDictionaryHost<Key, Value> }

    /// Stores `value` under `key`; nil removes the key.
    ///
    /// - Throws: in a child, ``ProcessError/Code/endOfStream`` if the owner is gone, an
    ///   encoding error; `CancellationError`.
    public func set(_ value: Value?, for key: Key) throws {
        guard let client = try endpoint.client() else {
            host.storage[key] = value
            return
        }
        _ = try client.call(ManagedDictionaryHost<Key, Value>.setOp, try BinaryEncoder().encode(Entry(key: key, value: value)), operation: "ManagedDictionary.set")
    }

    /// The value stored under `key`, if any. Throws as ``set(_:for:)``.
    public func value(for key: Key) throws -> Value? {
        guard let client = try endpoint.client() else { return host.storage[key] }
        let bytes = try client.call(ManagedDictionaryHost<Key, Value>.getOp, try BinaryEncoder().encode(key), operation: "ManagedDictionary.value")
        return try ManagedDictionaryHost<Key, Value>.decode(Value?.self, bytes)
    }

    /// A copy of the whole dictionary as it is now. Throws as ``set(_:for:)``.
    public func snapshot() throws -> [Key: Value] {
        guard let client = try endpoint.client() else { return host.storage }
        let bytes = try client.call(ManagedDictionaryHost<Key, Value>.snapshotOp, operation: "ManagedDictionary.snapshot")
        return try ManagedDictionaryHost<Key, Value>.decode([Key: Value].self, bytes)
    }

    /// Hands a link to the child being started (only inside a ``ChildProcess`` task).
    public func encode(to encoder: any Encoder) throws { try endpoint.encode(to: encoder) }

    /// Opens the link the owner sent (in the child, while its task is decoded).
    public init(from decoder: any Decoder) throws {
        endpoint = try ManagerEndpoint(from: decoder, label: "ManagedDictionary")
    }

    struct Entry: Codable {
        let key: Key
        let value: Value?
    }
}
