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
/// Waiting getters are served first come, first served. The queue is unbounded: `put`
/// never parks. A handle can be sent to a child only by the process that created the
/// queue. An item a child took and had not yet processed when it died is lost; one whose
/// `get` was cancelled after the parent had sent it is put back (at the end).
public final class ProcessQueue<Element: Codable & Sendable>: Codable, @unchecked Sendable {
    private let endpoint: BrokerEndpoint

    /// Creates an empty queue, hosted by this process.
    public init(label: String = "ProcessQueue") {
        endpoint = BrokerEndpoint(host: ProcessQueueHost<Element>(label: label))
    }

    private var host: ProcessQueueHost<Element>? {
        if case .host(let host) = endpoint.state { return host as? ProcessQueueHost<Element> }
        return nil
    }

    /// Appends `item`; wakes the longest-waiting getter, in any process.
    ///
    /// - Throws: in a child, ``ProcessError/Code/endOfStream`` if the parent is gone, the
    ///   item's encoding error; `CancellationError`.
    public func put(_ item: Element) throws {
        guard let client = try endpoint.client() else {
            host!.put(item)
            return
        }
        _ = try client.call(ProcessQueueHost<Element>.putOp, try BinaryEncoder().encode(item), operation: "ProcessQueue.put")
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
            _ = try? client?.call(ProcessQueueHost<Element>.putOp, item, operation: "ProcessQueue.put")
        }
        do {
            return try BinaryDecoder().decode(Element.self, from: bytes)
        } catch {
            throw ProcessError(.malformedFrame, "ProcessQueue.get: an item does not decode as \(Element.self): \(error)")
        }
    }

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
        endpoint = try BrokerEndpoint(from: decoder, label: "ProcessQueue")
    }
}

/// The items of a ``ProcessQueue`` and the getters waiting for them, in the parent.
final class ProcessQueueHost<Element: Codable & Sendable>: BrokerHost {
    static var putOp: UInt8 { 1 }
    static var getOp: UInt8 { 2 }
    static var countOp: UInt8 { 3 }

    private var items: [Element] = []
    private var head = 0
    private var getters: [Getter] = []

    private enum Getter {
        case local(LocalGetter)
        case remote(BrokerRequest)
    }

    final class LocalGetter {
        let event = Event(label: "ProcessQueue.get")
        var item: Element?
    }

    init(label: String) {
        super.init(label: label, maximumFrameSize: ProcessPool.defaultMaximumFrameSize)
    }

    var count: Int { items.count - head }

    func put(_ item: Element) {
        while !getters.isEmpty {
            switch getters.removeFirst() {
            case .local(let getter):
                getter.item = item
                getter.event.set()
                return
            case .remote(let request):
                guard !request.isAnswered else { continue }
                request.reply(encoding: item)
                return
            }
        }
        items.append(item)
    }

    private func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    func get(timeout: Duration?) throws -> Element {
        if let item = popFirst() { return item }
        let getter = LocalGetter()
        getters.append(.local(getter))
        do {
            try getter.event.wait(timeout: timeout)
        } catch {
            getters.removeAll { if case .local(let other) = $0 { return other === getter } else { return false } }
            // Handed an item while the timeout or cancellation was on its way: pass it on.
            if let item = getter.item { put(item) }
            throw error
        }
        return getter.item!
    }

    override func handle(_ request: BrokerRequest) {
        switch request.op {
        case Self.putOp:
            guard let item = request.decode(Element.self) else { return }
            put(item)
            request.reply()
        case Self.getOp:
            if let item = popFirst() {
                request.reply(encoding: item)
            } else {
                getters.append(.remote(request))
            }
        case Self.countOp:
            request.reply(encoding: count)
        default:
            super.handle(request)
        }
    }

    override func withdraw(_ request: BrokerRequest) {
        getters.removeAll { if case .remote(let other) = $0 { return other === request } else { return false } }
    }
}
