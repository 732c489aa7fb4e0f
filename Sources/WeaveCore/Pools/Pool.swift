/// A group of coroutines that runs at most ``size`` at once (gevent's `pool.Pool`).
///
/// ```swift
/// let pool = Pool(size: 10, label: "crawl")
/// let pages = try pool.map(urls) { url in try fetch(url) }        // input order; throws the first failure in it
/// for url in moreURLs { try pool.spawn { try fetch(url) } }         // waits for a free slot
/// try pool.join()
/// ```
///
/// Every way in (``spawn(name:stackSize:timeout:fileID:line:_:)``, ``add(_:timeout:)``,
/// ``map(_:fileID:line:_:)``, ``imap(_:fileID:line:_:)``, ``imapUnordered(_:fileID:line:_:)``,
/// ``submit(name:stackSize:timeout:fileID:line:_:callback:)``) takes a slot first,
/// waiting for one while the pool is full. Waiters are served first come, first served; a
/// slot freed by a finishing coroutine goes straight to the longest waiter. Finished
/// coroutines leave the pool by themselves. Waits on a pool show in deadlock reports as,
/// for instance, `Pool 'crawl' (10 of 10 busy) spawn`.
///
/// A pool belongs to one hub: use it only from that hub's thread. Dropping it neither stops
/// its coroutines nor disturbs their bookkeeping.
public final class Pool: CustomStringConvertible {
    @usableFromInline let members: MemberSet

    /// Creates an empty pool.
    ///
    /// - Parameters:
    ///   - size: The most coroutines running at once; at least 1.
    ///   - label: Names the pool in deadlock reports and descriptions, and names the
    ///     coroutines that `map`, `imap` and `imapUnordered` start.
    /// - Throws: ``WeaveError/Code/invalidArgument`` when `size` is below 1.
    ///
    /// A size below 1 is a programmer error (a precondition failure).
    public init(size: Int, label: String? = nil) {
        precondition(size >= 1, "Pool\(quoted(label)) size \(size) must be at least 1")
        members = MemberSet(kind: "Pool", label: label, limit: size)
    }

    /// The most coroutines running at once.
    public var size: Int { members.limit }

    /// The name given at creation, if any.
    public var label: String? { members.label }

    /// Coroutines of the pool running now.
    public var count: Int { members.count }

    /// Slots free now: how many coroutines could start without waiting.
    ///
    /// A slot just handed to a waiting spawner counts as busy, even before that spawner runs.
    public var freeCount: Int { members.freeCount }

    /// Whether every slot is taken, so that the next spawn waits.
    public var isFull: Bool { members.freeCount == 0 }

    /// Whether no coroutine of the pool is running (and no slot is taken).
    public var isEmpty: Bool { members.busy == 0 }

    /// Whether `coroutine` is a running member of this pool.
    public func contains(_ coroutine: AnyCoroutine) -> Bool {
        members.contains(coroutine)
    }

    /// Waits for a free slot, then starts `body` in a new coroutine of the pool (gevent's
    /// `Pool.spawn`).
    ///
    /// Blocks while the pool is full, behind callers that were waiting first; returns at
    /// once when a slot is free. The coroutine leaves the pool, freeing its slot, when it
    /// finishes. See ``spawn(name:stackSize:fileID:line:_:)`` for the coroutine itself.
    ///
    /// - Parameters:
    ///   - name: Shown in deadlock reports, overflow reports and logs.
    ///   - stackSize: Usable stack bytes; the hub's default when nil.
    ///   - timeout: How long to wait for a slot; forever when nil.
    ///   - fileID: Recorded as the spawn site (leave the default).
    ///   - line: Recorded as the spawn site (leave the default).
    ///   - body: The coroutine's code.
    /// - Returns: The new coroutine, to join or cancel.
    /// - Throws: ``TimeoutError`` if no slot frees within `timeout`, `CancellationError` if
    ///   the caller is cancelled while waiting (nothing is spawned then), and ``WeaveError``
    ///   when the pool is full outside a coroutine or when spawning fails (the slot is
    ///   given back).
    @discardableResult
    public func spawn<Value>(
        name: String? = nil,
        stackSize: Int? = nil,
        timeout: Duration? = nil,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ body: @escaping () throws -> Value
    ) throws -> Coroutine<Value> {
        let hub = try MemberSet.currentHub("Pool.spawn")
        try members.reserve(timeout: timeout, "spawn")
        return try members.spawnReserved(on: hub, name: name, stackSize: stackSize,
                                         spawnSite: SourceLocation(fileID: fileID, line: line), body)
    }

    /// Waits for a free slot, then tracks `coroutine` as a member of the pool (gevent's
    /// `Pool.add`).
    ///
    /// Returns at once if it is a member already or has finished. The slot is freed when it
    /// finishes or is discarded.
    ///
    /// - Throws: ``TimeoutError`` if no slot frees within `timeout`, `CancellationError` if
    ///   the caller is cancelled while waiting (the coroutine is then not added),
    ///   ``WeaveError`` when the pool is full outside a coroutine.
    public func add(_ coroutine: AnyCoroutine, timeout: Duration? = nil) throws {
        if coroutine.isFinished || members.contains(coroutine) { return }
        try members.reserve(timeout: timeout, "add")
        if coroutine.isFinished || members.contains(coroutine) {
            // It finished, or someone else added it, while we waited for the slot.
            members.releaseSlot()
            return
        }
        members.admit(coroutine)
    }

    /// Stops tracking `coroutine`, freeing its slot; it keeps running. Never blocks.
    public func discard(_ coroutine: AnyCoroutine) {
        members.discard(coroutine)
    }

    /// Waits until a slot is free, without taking it (gevent's `wait_available`).
    ///
    /// Returns at once if one is free. A slot that a waiting spawner takes over is not free:
    /// the wait goes on. A spawner may still take the slot between this call returning and
    /// the caller's next spawn, which then waits.
    ///
    /// - Returns: The number of free slots when it returns.
    /// - Throws: ``TimeoutError`` once `timeout` passes, `CancellationError` if the caller is
    ///   cancelled, ``WeaveError`` when the pool is full outside a coroutine.
    @discardableResult
    public func waitAvailable(timeout: Duration? = nil) throws -> Int {
        try members.waitAvailable(timeout: timeout)
    }

    /// Waits until every coroutine of the pool has finished (gevent's `join`).
    ///
    /// Also waits for coroutines spawned into the pool while it waits. Returns at once if
    /// the pool is empty.
    ///
    /// - Parameters:
    ///   - timeout: How long to wait; forever when nil.
    ///   - raiseError: When true, rethrows the first error (in completion order) that a
    ///     member threw while this call waited, once all have finished. A member ended by
    ///     cancellation does not count.
    /// - Throws: ``TimeoutError`` once `timeout` passes (the coroutines keep running),
    ///   `CancellationError` if the caller is cancelled, ``WeaveError/Code/joinSelf`` when
    ///   the caller is itself a member (it would wait for itself), and with `raiseError`
    ///   the first member error.
    public func join(timeout: Duration? = nil, raiseError: Bool = false) throws {
        try members.join(timeout: timeout, raiseError: raiseError)
    }

    /// Cancels every running coroutine of the pool (gevent's `kill`); does not wait.
    ///
    /// Each unwinds from its current blocking call, running its `defer` blocks, and leaves
    /// the pool as it finishes: follow with ``join(timeout:raiseError:)`` to wait for that.
    /// Callers waiting for a slot are not affected and get the freed slots. A `map` or
    /// `imap` whose items are cancelled this way fails with `CancellationError`.
    public func cancelAll() {
        members.cancelAll()
    }

    /// Runs `transform` over `input` in the pool's coroutines and returns the results in
    /// input order (gevent's `Pool.map`).
    ///
    /// At most ``size`` items are in progress at once (fewer while other users of the pool
    /// hold slots), and the input is consumed only as slots free up. Blocks on free slots
    /// and on the items; the transform does not escape, since every item has finished (or
    /// unwound) before this returns or throws.
    ///
    /// - Throws: The error of the failing item with the lowest input index, as gevent's
    ///   `map` (a list of `imap`): the items after it are cancelled and the rest of the input
    ///   is not consumed, the items before it run to the end (one of them may fail in its
    ///   place), and all have finished before it is thrown. See ``MapResults`` for `map`,
    ///   `imap` and `imapUnordered` side by side. `CancellationError` if the caller is cancelled, or the ``TimeoutError`` of an
    ///   enclosing `withTimeout` scope that expires: the items running are cancelled and
    ///   waited for before it is thrown, so none outlives the call. ``WeaveError`` outside
    ///   a coroutine or when no coroutine can be spawned.
    @inlinable
    public func map<Input: Sequence, Value>(
        _ input: Input,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ transform: (Input.Element) throws -> Value
    ) throws -> [Value] {
        try members.map(input, window: size, fileID: fileID, line: line, transform)
    }

    /// Runs `transform` over `input` in the pool's coroutines, lazily, and returns the
    /// results in input order as ``MapResults/next(timeout:)`` asks for them (gevent's `imap`).
    ///
    /// Nothing starts before the first `next`. At most ``size`` items are outstanding
    /// (running, or finished and not yet returned), so an infinite input is consumed only as
    /// results are read: after `n` results, at most `n + size` items have been taken. A
    /// failing item's error is thrown when the iteration reaches its index, after every
    /// earlier result. See ``MapResults`` for errors, cancellation and abandoning the
    /// iteration. Never blocks.
    @inlinable
    public func imap<Input: Sequence, Value>(
        _ input: Input,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ transform: @escaping (Input.Element) throws -> Value
    ) -> MapResults<Value> {
        MapResults(iteration: MapResults.iteration(over: members, input, ordered: true, window: size,
                                                   operation: "imap", fileID: fileID, line: line, transform))
    }

    /// Like ``imap(_:fileID:line:_:)``, but returns each result as soon as its item
    /// finishes (gevent's `imap_unordered`), with the same bound on outstanding items. A
    /// failure is thrown in its place in completion order, after the results that finished
    /// before it. Never blocks.
    @inlinable
    public func imapUnordered<Input: Sequence, Value>(
        _ input: Input,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ transform: @escaping (Input.Element) throws -> Value
    ) -> MapResults<Value> {
        MapResults(iteration: MapResults.iteration(over: members, input, ordered: false, window: size,
                                                   operation: "imapUnordered", fileID: fileID, line: line, transform))
    }

    /// Waits for a free slot, starts `body` in the pool, and calls `callback` with its
    /// outcome when it finishes (gevent's `apply_async`).
    ///
    /// `callback` runs exactly once, on the hub as the coroutine finishes (after its slot is
    /// freed), with the value or the error, `CancellationError` included. It must not block:
    /// spawn a coroutine from it for anything that waits.
    ///
    /// - Returns: The coroutine, to join or cancel.
    /// - Throws: As ``spawn(name:stackSize:timeout:fileID:line:_:)``; `callback` is not
    ///   called when nothing was spawned.
    @discardableResult
    public func submit<Value>(
        name: String? = nil,
        stackSize: Int? = nil,
        timeout: Duration? = nil,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ body: @escaping () throws -> Value,
        callback: @escaping (Result<Value, any Error>) -> Void
    ) throws -> Coroutine<Value> {
        let child = try spawn(name: name, stackSize: stackSize, timeout: timeout, fileID: fileID, line: line, body)
        child.onFinish { done in callback(unsafeDowncast(done, to: Coroutine<Value>.self).result.unsafelyUnwrapped) }
        return child
    }

    /// Such as `Pool 'crawl' (3 of 10 busy)`.
    public var description: String { members.waitDescription }
}
