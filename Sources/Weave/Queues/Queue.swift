/// A queue of items between coroutines (gevent's `Queue`, Python's `queue.Queue`): FIFO,
/// optionally bounded, with task accounting (`taskDone`/`join`) and shutdown.
///
/// `put` waits while the queue is full, `get` while it is empty; both take a timeout and
/// throw `CancellationError` when cancelled. Waiting coroutines are served first-come
/// first-served, and an item put while a coroutine waits in `get` is handed to it directly.
/// ``LifoQueue`` and ``PriorityQueue`` change the order. Belongs to one hub.
public class Queue<Element>: WaitTarget, CustomStringConvertible {
    public let label: String?
    /// The most items the queue holds; nil for unbounded.
    public let maxSize: Int?
    let storage: QueueStorage<Element>
    @exclusivity(unchecked) private var getters = WaitQueue()
    @exclusivity(unchecked) private var putters = WaitQueue()
    @exclusivity(unchecked) private var joiners = WaitQueue()
    @exclusivity(unchecked) private var unfinished = 0
    @exclusivity(unchecked) public private(set) var isShutDown = false

    /// - Parameters:
    ///   - maxSize: At least 1, or nil for an unbounded queue. (gevent's `Queue(0)` is a
    ///     rendezvous channel: use ``Channel`` for that.)
    ///   - label: Shown in deadlock reports.
    public convenience init(maxSize: Int? = nil, label: String? = nil) throws {
        try self.init(storage: FIFOStorage(), maxSize: maxSize, label: label, kind: "Queue")
    }

    init(storage: QueueStorage<Element>, maxSize: Int?, label: String?, kind: String) throws {
        if let maxSize, maxSize < 1 {
            throw WeaveError(.invalidArgument, "\(kind)\(quoted(label)) maxSize \(maxSize) must be at least 1 (or nil for unbounded)")
        }
        self.storage = storage
        self.maxSize = maxSize
        self.label = label
    }

    /// Items in the queue now.
    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.count == 0 }
    public var isFull: Bool { maxSize.map { storage.count >= $0 } ?? false }
    /// Items put and not yet marked with ``taskDone()``.
    public var unfinishedTasks: Int { unfinished }

    /// The item `get` would return next, without removing it; nil when empty.
    public func peek() -> Element? { storage.peek() }

    /// Adds `item`, waiting while the queue is full.
    ///
    /// Throws ``QueueError/Code/shutDown`` once the queue is shut down (also when that
    /// happens while waiting), ``TimeoutError`` after `timeout`, `CancellationError` if
    /// cancelled (the item is then not added).
    @inlinable
    public func put(_ item: Element, timeout: Duration? = nil) throws {
        // Inlinable so the caller specialises it: the shared core works on a typed pointer
        // and never needs metadata for derived types (a lookup per call otherwise).
        var item = item
        try withUnsafeMutablePointer(to: &item) { try _put(from: $0, timeout: timeout) }
    }

    /// Adds `item` if there is room; never blocks. Throws ``QueueError/Code/full``.
    @inlinable
    public func putNowait(_ item: Element) throws {
        var item = item
        try withUnsafeMutablePointer(to: &item) { try _putNowait(from: $0) }
    }

    /// Removes and returns the next item, waiting while the queue is empty.
    ///
    /// Throws ``QueueError/Code/shutDown`` once the queue is shut down and empty,
    /// ``TimeoutError`` after `timeout`, `CancellationError` if cancelled (no item is then taken).
    @inlinable
    public func get(timeout: Duration? = nil) throws -> Element {
        try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            try _get(into: slot, timeout: timeout)
            return slot.move()
        }
    }

    /// Removes and returns the next item; never blocks. Throws ``QueueError/Code/empty``.
    @inlinable
    public func getNowait() throws -> Element {
        try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            try _getNowait(into: slot)
            return slot.move()
        }
    }

    /// Adds a copy of `*item`; see ``put(_:timeout:)``.
    @usableFromInline
    func _put(from item: UnsafeMutablePointer<Element>, timeout: Duration?) throws {
        if try putWithoutWaiting(from: item) { return }
        // The item waits in the caller's frame until a `get` copies it in and signals us.
        let closed = try AnyCoroutine.wait(on: self, "put", timeout: timeout, slot: UnsafeMutableRawPointer(item),
                                           enqueue: { putters.append($0) }, dequeue: { putters.remove($0) })
        if closed { throw shutDownError() }
    }

    @usableFromInline
    func _putNowait(from item: UnsafeMutablePointer<Element>) throws {
        guard try putWithoutWaiting(from: item) else {
            throw QueueError(.full, "\(kind)\(quoted(label)) is full (\(storage.count) items)")
        }
    }

    /// Initialises `*slot` with the next item; see ``get(timeout:)``.
    @usableFromInline
    func _get(into slot: UnsafeMutablePointer<Element>, timeout: Duration?) throws {
        if try getWithoutWaiting(into: slot) { return }
        // A `put` initialises the slot and signals us; a shutdown signals with `sawClose`.
        let closed = try AnyCoroutine.wait(on: self, "get", timeout: timeout, slot: UnsafeMutableRawPointer(slot),
                                           enqueue: { getters.append($0) }, dequeue: { getters.remove($0) })
        if closed { throw shutDownError() }
    }

    @usableFromInline
    func _getNowait(into slot: UnsafeMutablePointer<Element>) throws {
        guard try getWithoutWaiting(into: slot) else {
            throw QueueError(.empty, "\(kind)\(quoted(label)) is empty")
        }
    }

    /// Marks one item from `get` as processed, for ``join(timeout:)``.
    /// Throws ``QueueError/Code/taskDoneTooOften`` when called more often than items were put.
    public func taskDone() throws {
        guard unfinished > 0 else {
            throw QueueError(.taskDoneTooOften, "\(kind)\(quoted(label)).taskDone called more times than items were put")
        }
        unfinished -= 1
        if unfinished == 0 { joiners.signalAll() }
    }

    /// Waits until every item put has been marked with ``taskDone()``.
    public func join(timeout: Duration? = nil) throws {
        guard unfinished > 0 else { return }
        let coroutine = try AnyCoroutine.requireCurrent("Queue.join")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while unfinished > 0 {
            try coroutine.wait(on: self, "join", timeout: deadline.map { $0 - .now },
                               enqueue: { joiners.append($0) }, dequeue: { joiners.remove($0) })
        }
    }

    /// Shuts the queue down (Python 3.13's `Queue.shutdown`): `put` fails from now on, and
    /// so does `get` once the queue is empty; coroutines blocked in either are woken with
    /// ``QueueError/Code/shutDown``. With `immediate`, the items left are discarded (and
    /// count as done), so `get` fails at once and `join` returns.
    public func shutdown(immediate: Bool = false) {
        isShutDown = true
        if immediate {
            let discarded = storage.removeAll()
            unfinished = max(0, unfinished - discarded)
            if unfinished == 0 { joiners.signalAll() }
        }
        putters.closeAll()
        if storage.count == 0 { getters.closeAll() }
    }

    // MARK: - Internals

    var kind: String { "Queue" }

    /// Delivers a copy of `*item` to a waiting getter or stores it; false when full.
    private func putWithoutWaiting(from item: UnsafeMutablePointer<Element>) throws -> Bool {
        if isShutDown { throw shutDownError() }
        if let slot = getters.signalFirstSlot() {
            slot.assumingMemoryBound(to: Element.self).initialize(to: item.pointee)
            unfinished += 1
            return true
        }
        if isFull { return false }
        storage.push(item.pointee)
        unfinished += 1
        return true
    }

    /// Initialises `*slot` with the next item, refilling from a waiting putter; false when empty.
    private func getWithoutWaiting(into slot: UnsafeMutablePointer<Element>) throws -> Bool {
        if storage.count > 0 {
            slot.initialize(to: storage.pop())
            if let putterSlot = putters.signalFirstSlot() {
                storage.push(putterSlot.assumingMemoryBound(to: Element.self).pointee)
                unfinished += 1
            }
            return true
        }
        if isShutDown { throw shutDownError() }
        return false
    }

    private func shutDownError() -> QueueError {
        QueueError(.shutDown, "\(kind)\(quoted(label)) is shut down")
    }

    var waitDescription: String {
        "\(kind)\(quoted(label)) (\(storage.count)\(maxSize.map { " of \($0)" } ?? "") items)"
    }

    public var description: String { waitDescription }
}

/// A last-in first-out queue (gevent's `LifoQueue`); see ``Queue``.
public final class LifoQueue<Element>: Queue<Element> {
    public init(maxSize: Int? = nil, label: String? = nil) throws {
        try super.init(storage: LIFOStorage(), maxSize: maxSize, label: label, kind: "LifoQueue")
    }

    override var kind: String { "LifoQueue" }
}

/// A queue that returns its smallest item first (gevent's `PriorityQueue`); equal items
/// come out in the order they were put. See ``Queue``.
public final class PriorityQueue<Element>: Queue<Element> {
    /// Orders items with `areInIncreasingOrder` (smallest first).
    public init(maxSize: Int? = nil, label: String? = nil, by areInIncreasingOrder: @escaping (Element, Element) -> Bool) throws {
        try super.init(storage: HeapStorage(by: areInIncreasingOrder), maxSize: maxSize, label: label, kind: "PriorityQueue")
    }

    override var kind: String { "PriorityQueue" }
}

extension PriorityQueue where Element: Comparable {
    /// Orders items by `<` (smallest first).
    public convenience init(maxSize: Int? = nil, label: String? = nil) throws {
        try self.init(maxSize: maxSize, label: label, by: <)
    }
}
