import WeaveCore

/// A first-in first-out queue shared by a parent and its children, any number of them
/// putting and getting (Python's `multiprocessing.Queue`).
///
/// ```swift
/// let queue = try ProcessQueue<Int>()
/// let producer = try ChildProcess(Produce(queue: queue, count: 10))  // the handle travels in the task
/// for _ in 0..<10 { print(try queue.get(timeout: .seconds(5))) }
/// ```
///
/// The items live in the process that created the queue; a child's handle sends each
/// `put` and `get` to it over its own link (see ``ChildProcess`` for how handles travel),
/// and a `get` parks the calling coroutine, in whichever process, until an item comes.
/// Waiting getters are served first come, first served. With a `maxSize`, `put` parks
/// while the queue is full (Python's `Queue(maxsize)`), waiting putters also first come,
/// first served; without one, `put` never parks. A handle can be sent to a child only by
/// the process that created the queue. An item a child took and had not yet processed when
/// it died is lost; one whose `get` was cancelled after the parent had sent it is put back
/// (at the end, even into a full queue). A child's `put` cancelled just as the parent let it
/// in stays queued.
///
/// A handle is not `Sendable`: it travels to a child inside a task, as bytes, never to
/// another thread. Once it serves a child (or, in a child, once used) it belongs to that
/// hub, and a use from another thread traps.
public final class ProcessQueue<Element: Codable & Sendable>: Codable {
    private let endpoint: ManagerEndpoint

    /// Creates an empty, unbounded queue, hosted by this process.
    public init(label: String = "ProcessQueue") {
        endpoint = ManagerEndpoint(host: ProcessQueueHost<Element>(label: label, maxSize: nil))
    }

    /// Creates an empty queue of at most `maxSize` items, hosted by this process.
    ///
    /// A `maxSize` below 1 is a programmer error (a precondition failure).
    public init(maxSize: Int, label: String = "ProcessQueue") {
        precondition(maxSize >= 1, "\(label) maxSize \(maxSize) must be at least 1")
        endpoint = ManagerEndpoint(host: ProcessQueueHost<Element>(label: label, maxSize: maxSize))
    }

    private var host: ProcessQueueHost<Element>? {
        if case .host(let host) = endpoint.state { return host as? ProcessQueueHost<Element> }
        return nil
    }

    /// Appends `item`, parking while a bounded queue is full; wakes the longest-waiting
    /// getter, in any process.
    ///
    /// - Throws: ``TimeoutError`` after `timeout` (the item is then not queued);
    ///   `CancellationError`; in a child, ``ProcessError/Code/endOfStream`` if the parent is
    ///   gone, and the item's encoding error.
    public func put(_ item: Element, timeout: Duration? = nil) throws {
        guard let client = try endpoint.client() else {
            try host!.put(item, timeout: timeout)
            return
        }
        _ = try client.call(ProcessQueueHost<Element>.putOp, try BinaryEncoder().encode(item),
                            operation: "ProcessQueue.put", timeout: timeout)
    }

    /// Removes and returns the first item, parking until there is one.
    ///
    /// - Throws: ``TimeoutError`` after `timeout`; `CancellationError`; in a child,
    ///   ``ProcessError/Code/endOfStream`` if the parent is gone and
    ///   ``ProcessError/Code/malformedFrame`` if an item does not decode as `Element`.
    public func get(timeout: Duration? = nil) throws -> Element {
        guard let client = try endpoint.client() else { return try host!.get(timeout: timeout) }
        let bytes = try client.call(ProcessQueueHost<Element>.getOp, operation: "ProcessQueue.get", timeout: timeout) { [weak client] item in
            // Answered after we gave up: the item goes back rather than being lost.
            client?.post(ProcessQueueHost<Element>.restoreOp, item)
        }
        do {
            return try BinaryDecoder().decode(Element.self, from: bytes)
        } catch {
            throw ProcessError(.malformedFrame, "ProcessQueue.get: an item does not decode as \(Element.self): \(error)")
        }
    }

    /// Puts parked for room in this (the hosting) process's queue, from any process.
    var waitingPutters: Int { host?.waitingPutters ?? 0 }
    var waitingGetters: Int { host?.waitingGetters ?? 0 }

    /// The number of items queued now (a snapshot: other processes may change it at once).
    public func count() throws -> Int {
        guard let client = try endpoint.client() else { return host!.count }
        return try BinaryDecoder().decode(Int.self, from: try client.call(ProcessQueueHost<Element>.countOp, operation: "ProcessQueue.count"))
    }

    /// Hands a link to the child being started (only inside a ``ChildProcess`` task, only
    /// from the process that created the queue).
    public func encode(to encoder: any Encoder) throws { try endpoint.encode(to: encoder) }

    /// Opens the link the parent sent (in the child, while its task is decoded).
    public init(from decoder: any Decoder) throws {
        endpoint = try ManagerEndpoint(from: decoder, label: "ProcessQueue")
    }
}
