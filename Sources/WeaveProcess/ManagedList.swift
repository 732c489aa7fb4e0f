import WeaveCore

/// A list held by the process that created it and shared with its children (the `list`
/// of Python's `multiprocessing.Manager()`).
///
/// Each call is one round trip to the owning process (none in the owner itself), atomic
/// on its own: appends from several processes never interleave within an element. A
/// handle travels to a child inside a ``ChildProcess`` task, from the owning process only.
/// It is not `Sendable`: once it serves a child (or, in a child, once used) it belongs to
/// that hub, and a use from another thread traps.
public final class ManagedList<Element: Codable & Sendable>: Codable {
    private let endpoint: ManagerEndpoint

    /// Creates an empty list, held by this process.
    public init(label: String = "ManagedList") {
        endpoint = ManagerEndpoint(host: ManagedListHost<Element>(label: label))
    }

    private var host: ManagedListHost<Element> { endpoint.hostObject as! ManagedListHost<Element> }

    /// Appends `element` at the end.
    ///
    /// - Throws: in a child, ``ProcessError/Code/endOfStream`` if the owner is gone, an
    ///   encoding error; `CancellationError`.
    public func append(_ element: Element) throws {
        guard let client = try endpoint.client() else {
            host.storage.append(element)
            return
        }
        _ = try client.call(ManagedListHost<Element>.appendOp, try BinaryEncoder().encode(element), operation: "ManagedList.append")
    }

    /// A copy of the whole list as it is now. Throws as ``append(_:)``.
    public func snapshot() throws -> [Element] {
        guard let client = try endpoint.client() else { return host.storage }
        let bytes = try client.call(ManagedListHost<Element>.snapshotOp, operation: "ManagedList.snapshot")
        do {
            return try BinaryDecoder().decode([Element].self, from: bytes)
        } catch {
            throw ProcessError(.malformedFrame, "ManagedList.snapshot: the answer does not decode as [\(Element.self)]: \(error)")
        }
    }

    /// Hands a link to the child being started (only inside a ``ChildProcess`` task).
    public func encode(to encoder: any Encoder) throws { try endpoint.encode(to: encoder) }

    /// Opens the link the owner sent (in the child, while its task is decoded).
    public init(from decoder: any Decoder) throws {
        endpoint = try ManagerEndpoint(from: decoder, label: "ManagedList")
    }
}
