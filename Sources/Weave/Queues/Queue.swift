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
    public func put(_ item: Element, timeout: Duration? = nil) throws {
        if try putWithoutWaiting(item) { return }
        let coroutine = try AnyCoroutine.requireCurrent("Queue.put")
        let waiter = coroutine.waiter
        // The item waits on this stack until a `get` moves it out (signalled, not closed).
        try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            slot.initialize(to: item)
            waiter.slot = UnsafeMutableRawPointer(slot)
            defer {
                waiter.slot = nil
                if !(waiter.isSignaled && !waiter.sawClose) { slot.deinitialize(count: 1) }
            }
            try coroutine.wait(on: self, "put", timeout: timeout,
                               enqueue: { putters.append($0) }, dequeue: { putters.remove($0) })
        }
        if waiter.sawClose { throw shutDownError() }
    }

    /// Adds `item` if there is room; never blocks. Throws ``QueueError/Code/full``.
    public func putNowait(_ item: Element) throws {
        guard try putWithoutWaiting(item) else {
            throw QueueError(.full, "\(kind)\(quoted(label)) is full (\(storage.count) items)")
        }
    }

    /// Removes and returns the next item, waiting while the queue is empty.
    ///
    /// Throws ``QueueError/Code/shutDown`` once the queue is shut down and empty,
    /// ``TimeoutError`` after `timeout`, `CancellationError` if cancelled (no item is then taken).
    public func get(timeout: Duration? = nil) throws -> Element {
        if let item = try getWithoutWaiting() { return item }
        let coroutine = try AnyCoroutine.requireCurrent("Queue.get")
        let waiter = coroutine.waiter
        // A `put` initialises this slot and signals us; a shutdown signals with `sawClose`.
        return try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            waiter.slot = UnsafeMutableRawPointer(slot)
            defer { waiter.slot = nil }
            try coroutine.wait(on: self, "get", timeout: timeout,
                               enqueue: { getters.append($0) }, dequeue: { getters.remove($0) })
            if waiter.sawClose { throw shutDownError() }
            return slot.move()
        }
    }

    /// Removes and returns the next item; never blocks. Throws ``QueueError/Code/empty``.
    public func getNowait() throws -> Element {
        guard let item = try getWithoutWaiting() else {
            throw QueueError(.empty, "\(kind)\(quoted(label)) is empty")
        }
        return item
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

    /// Delivers to a waiting getter or stores; false when full.
    private func putWithoutWaiting(_ item: Element) throws -> Bool {
        if isShutDown { throw shutDownError() }
        if let slot = getters.signalFirstSlot() {
            slot.assumingMemoryBound(to: Element.self).initialize(to: item)
            unfinished += 1
            return true
        }
        if isFull { return false }
        storage.push(item)
        unfinished += 1
        return true
    }

    /// Takes the next item, refilling from a waiting putter; nil when empty.
    private func getWithoutWaiting() throws -> Element? {
        if storage.count > 0 {
            let item = storage.pop()
            if let slot = putters.signalFirstSlot() {
                storage.push(slot.assumingMemoryBound(to: Element.self).move())
                unfinished += 1
            }
            return item
        }
        if isShutDown { throw shutDownError() }
        return nil
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
