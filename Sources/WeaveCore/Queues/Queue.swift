/// A queue of items between coroutines (gevent's `Queue`, Python's `queue.Queue`): FIFO,
/// optionally bounded, with task accounting (`taskDone`/`join`) and shutdown.
///
/// `put` waits while the queue is full, `get` while it is empty; both take a timeout and
/// throw `CancellationError` when cancelled. Waiting coroutines are served first-come
/// first-served, and an item put while a coroutine waits in `get` is handed to it directly.
/// ``LifoQueue`` and ``PriorityQueue`` change the order. Belongs to one hub (between the hubs
/// of a ``HubGroup``, use ``CrossHubChannel``).
public class Queue<Element>: WaitTarget, CustomStringConvertible {
    public let label: String?
    /// The most items the queue holds; nil for unbounded.
    public let maxSize: Int?
    let storage: QueueStorage<Element>
    /// `storage` when it is the FIFO ring (a plain `Queue`), nil for LIFO and priority order.
    /// Lets the inlined fast paths call the ring directly (specialised, no virtual call)
    /// without a dynamic cast per operation.
    @usableFromInline let fifo: FIFOStorage<Element>?
    /// `maxSize`, or `Int.max` when unbounded: "is there room" is one comparison.
    @usableFromInline let limit: Int
    @exclusivity(unchecked) private var getters = WaitQueue()
    @exclusivity(unchecked) private var putters = WaitQueue()
    @exclusivity(unchecked) private var joiners = WaitQueue()
    /// Whether `getters` (`putters`) may hold a waiter, for the inlined fast paths, which
    /// cannot see the module-internal `WaitQueue`. Set whenever a waiter is added, refreshed
    /// whenever this queue takes one out: false means empty, and a stale true only sends
    /// a call down the out-of-line path, which refreshes it.
    @usableFromInline @exclusivity(unchecked) final var gettersMayWait = false
    @usableFromInline @exclusivity(unchecked) final var puttersMayWait = false
    @usableFromInline @exclusivity(unchecked) final var unfinished = 0
    // The `final`s on stored properties matter: the class is subclassed, so without them
    // inlined code in another module would reach every property through the vtable.
    @exclusivity(unchecked) public final private(set) var isShutDown = false

    /// - Parameters:
    ///   - maxSize: At least 1, or nil for an unbounded queue. (gevent's `Queue(0)` is a
    ///     rendezvous channel: use ``Channel`` for that.)
    ///   - label: Shown in deadlock reports.
    ///
    /// A `maxSize` below 1 is a programmer error (a precondition failure).
    public convenience init(maxSize: Int? = nil, label: String? = nil) {
        self.init(storage: FIFOStorage(), maxSize: maxSize, label: label, kind: "Queue")
    }

    init(storage: QueueStorage<Element>, maxSize: Int?, label: String?, kind: String) {
        if let maxSize {
            precondition(maxSize >= 1, "\(kind)\(quoted(label)) maxSize \(maxSize) must be at least 1 (or nil for unbounded)")
        }
        self.storage = storage
        self.fifo = storage as? FIFOStorage<Element>
        self.maxSize = maxSize
        self.limit = maxSize ?? .max
        self.label = label
    }

    /// Items in the queue now.
    public final var count: Int { storage.count }
    /// Whether the queue holds no items now.
    public final var isEmpty: Bool { storage.count == 0 }
    /// Whether the queue holds `maxSize` items now (never for an unbounded queue).
    public final var isFull: Bool { storage.count >= limit }
    /// Items put and not yet marked with ``taskDone()``.
    public final var unfinishedTasks: Int { unfinished }

    /// The item `get` would return next, without removing it; nil when empty.
    public final func peek() -> Element? { storage.peek() }

    /// Adds `item`, waiting while the queue is full.
    ///
    /// Throws ``QueueError/Code/shutDown`` once the queue is shut down (also when that
    /// happens while waiting), ``TimeoutError`` after `timeout`, `CancellationError` if
    /// cancelled (the item is then not added).
    @inlinable
    public final func put(_ item: Element, timeout: Duration? = nil) throws {
        // Inlinable (and final, so not dispatched to the unspecialised body) so the caller
        // specialises it: the common case is a store into the ring. The shared core works
        // on a typed pointer and never needs metadata for derived types.
        if _storeIfFree(item) { return }
        var item = item
        try withUnsafeMutablePointer(to: &item) { try _put(from: $0, timeout: timeout) }
    }

    /// Adds `item` if there is room now; never blocks.
    ///
    /// Returns false, leaving the queue as it was, when it is full. Throws
    /// ``QueueError/Code/shutDown`` once the queue is shut down.
    @inlinable
    public final func tryPut(_ item: Element) throws -> Bool {
        if _storeIfFree(item) { return true }
        var item = item
        return try withUnsafeMutablePointer(to: &item) { try _tryPut(from: $0) }
    }

    /// Removes and returns the next item, waiting while the queue is empty.
    ///
    /// Throws ``QueueError/Code/shutDown`` once the queue is shut down and empty,
    /// ``TimeoutError`` after `timeout`, `CancellationError` if cancelled (no item is then taken).
    @inlinable
    public final func get(timeout: Duration? = nil) throws -> Element {
        if let fifo, _canTakeFree(fifo) { return fifo.pop() }
        return try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            try _get(into: slot, timeout: timeout)
            return slot.move()
        }
    }

    /// Removes and returns the next item if there is one now; never blocks.
    ///
    /// Returns nil when the queue is empty (a shut-down queue still drains). Throws
    /// ``QueueError/Code/shutDown`` once the queue is shut down and empty.
    @inlinable
    public final func tryGet() throws -> Element? {
        if let fifo, _canTakeFree(fifo) { return fifo.pop() }
        return try withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
            let slot = buffer.baseAddress.unsafelyUnwrapped
            return try _tryGet(into: slot) ? slot.move() : nil
        }
    }

    /// The fast path of `put`, inlined into the caller: stores `item` in the FIFO ring when
    /// that is all `put` would do (open, no getter waiting to be handed the item, room left)
    /// and the ring need not grow. False otherwise (LIFO or priority order too): the caller
    /// takes the out-of-line path, which also grows the ring.
    @inlinable @inline(__always)
    final func _storeIfFree(_ item: Element) -> Bool {
        guard let fifo, !isShutDown, !gettersMayWait, fifo.stored < limit, fifo.hasRoom else { return false }
        fifo.pushIntoRoom(item)
        unfinished += 1
        return true
    }

    /// The condition for `get`'s inlined fast path: the FIFO ring has an item and no putter
    /// waits to refill the room it leaves (a shut-down queue still drains).
    @inlinable @inline(__always)
    final func _canTakeFree(_ fifo: FIFOStorage<Element>) -> Bool {
        fifo.stored > 0 && !puttersMayWait
    }

    /// Adds a copy of `*item`; see ``put(_:timeout:)``.
    @usableFromInline
    final func _put(from item: UnsafeMutablePointer<Element>, timeout: Duration?) throws {
        if try putWithoutWaiting(from: item) { return }
        // The item waits in the caller's frame until a `get` copies it in and signals us.
        let closed = try AnyCoroutine.wait(on: self, "put", timeout: timeout, slot: UnsafeMutableRawPointer(item),
                                           enqueue: { putters.append($0); puttersMayWait = true },
                                           dequeue: { putters.remove($0); puttersMayWait = !putters.isEmpty })
        if closed { throw shutDownError() }
    }

    @usableFromInline
    final func _tryPut(from item: UnsafeMutablePointer<Element>) throws -> Bool {
        try putWithoutWaiting(from: item)
    }

    /// Initialises `*slot` with the next item; see ``get(timeout:)``.
    @usableFromInline
    final func _get(into slot: UnsafeMutablePointer<Element>, timeout: Duration?) throws {
        if try getWithoutWaiting(into: slot) { return }
        // A `put` initialises the slot and signals us; a shutdown signals with `sawClose`.
        let closed = try AnyCoroutine.wait(on: self, "get", timeout: timeout, slot: UnsafeMutableRawPointer(slot),
                                           enqueue: { getters.append($0); gettersMayWait = true },
                                           dequeue: { getters.remove($0); gettersMayWait = !getters.isEmpty })
        if closed { throw shutDownError() }
    }

    @usableFromInline
    final func _tryGet(into slot: UnsafeMutablePointer<Element>) throws -> Bool {
        try getWithoutWaiting(into: slot)
    }

    /// Marks one item from `get` as processed, for ``join(timeout:)``.
    /// Throws ``QueueError/Code/taskDoneTooOften`` when called more often than items were put.
    public final func taskDone() throws {
        guard unfinished > 0 else {
            throw QueueError(.taskDoneTooOften, "\(kind)\(quoted(label)).taskDone called more times than items were put")
        }
        unfinished -= 1
        if unfinished == 0 { joiners.signalAll() }
    }

    /// Waits until every item put has been marked with ``taskDone()``.
    public final func join(timeout: Duration? = nil) throws {
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
    public final func shutdown(immediate: Bool = false) {
        isShutDown = true
        if immediate {
            let discarded = storage.removeAll()
            unfinished = max(0, unfinished - discarded)
            if unfinished == 0 { joiners.signalAll() }
        }
        putters.closeAll()
        puttersMayWait = !putters.isEmpty
        if storage.count == 0 {
            getters.closeAll()
            gettersMayWait = !getters.isEmpty
        }
    }

    // MARK: - Internals

    var kind: String { "Queue" }

    /// Delivers a copy of `*item` to a waiting getter or stores it; false when full.
    private func putWithoutWaiting(from item: UnsafeMutablePointer<Element>) throws -> Bool {
        if isShutDown { throw shutDownError() }
        if let slot = signalFirstSlot(of: &getters, mayWait: &gettersMayWait) {
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
            if let putterSlot = signalFirstSlot(of: &putters, mayWait: &puttersMayWait) {
                storage.push(putterSlot.assumingMemoryBound(to: Element.self).pointee)
                unfinished += 1
            }
            return true
        }
        if isShutDown { throw shutDownError() }
        return false
    }

    /// Wakes the first coroutine waiting in `waiters` and returns its value slot (nil if
    /// none waits), keeping the fast paths' `mayWait` flag in step. Checks `isEmpty` first:
    /// most calls find nobody waiting.
    @inline(__always)
    private func signalFirstSlot(of waiters: inout WaitQueue, mayWait: inout Bool) -> UnsafeMutableRawPointer? {
        guard !waiters.isEmpty else {
            mayWait = false
            return nil
        }
        let slot = waiters.signalFirstSlot()
        mayWait = !waiters.isEmpty
        return slot
    }

    private func shutDownError() -> QueueError {
        QueueError(.shutDown, "\(kind)\(quoted(label)) is shut down")
    }

    package var waitDescription: String {
        "\(kind)\(quoted(label)) (\(storage.count)\(maxSize.map { " of \($0)" } ?? "") items)"
    }

    public var description: String { waitDescription }
}

/// A last-in first-out queue (gevent's `LifoQueue`); see ``Queue``.
public final class LifoQueue<Element>: Queue<Element> {
    public init(maxSize: Int? = nil, label: String? = nil) {
        super.init(storage: LIFOStorage(), maxSize: maxSize, label: label, kind: "LifoQueue")
    }

    override var kind: String { "LifoQueue" }
}

/// A queue that returns its smallest item first (gevent's `PriorityQueue`); equal items
/// come out in the order they were put. See ``Queue``.
public final class PriorityQueue<Element>: Queue<Element> {
    /// Orders items with `areInIncreasingOrder` (smallest first).
    public init(maxSize: Int? = nil, label: String? = nil, by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        super.init(storage: HeapStorage(by: areInIncreasingOrder), maxSize: maxSize, label: label, kind: "PriorityQueue")
    }

    override var kind: String { "PriorityQueue" }
}

extension PriorityQueue where Element: Comparable {
    /// Orders items by `<` (smallest first).
    public convenience init(maxSize: Int? = nil, label: String? = nil) {
        self.init(maxSize: maxSize, label: label, by: <)
    }
}
