/// An unbounded set of running coroutines that can be joined or cancelled together
/// (gevent's `pool.Group`).
///
/// ```swift
/// let group = Group(label: "handlers")
/// for connection in connections { try group.spawn { try serve(connection) } }
/// try group.join(raiseError: true)
/// ```
///
/// Finished coroutines leave the group by themselves. Unlike ``withCoroutineGroup(_:)``,
/// a group is not a scope: it joins and cancels only when asked, and a member's failure
/// does not cancel the others. ``Pool`` adds a bound on how many run at once. Waits on a
/// group show in deadlock reports as, for instance, `Group 'handlers' (3 running) join`.
///
/// A group belongs to one hub: use it only from that hub's thread. Dropping it neither stops
/// its coroutines nor disturbs their bookkeeping.
public final class Group: CustomStringConvertible {
    @usableFromInline let members: MemberSet

    /// Creates an empty group.
    ///
    /// - Parameter label: Names the group in deadlock reports and descriptions, and names
    ///   the coroutines that `map`, `imap` and `imapUnordered` start.
    public init(label: String? = nil) {
        members = MemberSet(kind: "Group", label: label, limit: .max)
    }

    /// The name given at creation, if any.
    public var label: String? { members.label }

    /// Coroutines of the group running now.
    public var count: Int { members.count }

    /// Whether no coroutine of the group is running.
    public var isEmpty: Bool { members.busy == 0 }

    /// Whether `coroutine` is a running member of this group.
    public func contains(_ coroutine: AnyCoroutine) -> Bool {
        members.contains(coroutine)
    }

    /// Starts `body` in a new coroutine that is a member of the group (gevent's
    /// `Group.spawn`). Never blocks.
    ///
    /// See ``spawn(name:stackSize:fileID:line:_:)`` for the parameters.
    ///
    /// - Throws: ``WeaveError`` outside a hub, while the hub shuts down, or when no stack
    ///   can be had.
    @discardableResult
    public func spawn<Value>(
        name: String? = nil,
        stackSize: Int? = nil,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ body: @escaping () throws -> Value
    ) throws -> Coroutine<Value> {
        let hub = try MemberSet.currentHub("Group.spawn")
        _ = members.tryReserve()
        return try members.spawnReserved(on: hub, name: name, stackSize: stackSize,
                                         spawnSite: SourceLocation(fileID: fileID, line: line), body)
    }

    /// Tracks `coroutine`, spawned elsewhere, as a member until it finishes (gevent's
    /// `Group.add`). Never blocks.
    ///
    /// Does nothing if it is a member already or has finished.
    public func add(_ coroutine: AnyCoroutine) {
        if coroutine.isFinished || members.contains(coroutine) { return }
        _ = members.tryReserve()
        members.admit(coroutine)
    }

    /// Stops tracking `coroutine`; it keeps running. Never blocks.
    public func discard(_ coroutine: AnyCoroutine) {
        members.discard(coroutine)
    }

    /// Waits until every coroutine of the group has finished (gevent's `join`).
    ///
    /// Also waits for coroutines added while it waits. Returns at once if the group is empty.
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

    /// Cancels every running coroutine of the group (gevent's `kill`); does not wait.
    ///
    /// Each unwinds from its current blocking call, running its `defer` blocks, and leaves
    /// the group as it finishes: follow with ``join(timeout:raiseError:)`` to wait for that.
    /// A `map` or `imap` whose items are cancelled this way fails with `CancellationError`.
    public func cancelAll() {
        members.cancelAll()
    }

    /// Runs `transform` over every item of `input`, each in a coroutine of the group, all at
    /// once, and returns the results in input order.
    ///
    /// The whole input is taken at once (a group has no bound): it must be finite. Use a
    /// ``Pool`` to bound concurrency. Blocks until every item has finished; the transform
    /// does not escape, since every item has finished (or unwound) before this returns or
    /// throws.
    ///
    /// - Throws: The error of the failing item with the lowest input index, as gevent's
    ///   `map`: the items after it are cancelled, the items before it run to the end (one of
    ///   them may fail in its place), and all have finished before it is thrown. See
    ///   ``MapResults`` for `map`, `imap` and `imapUnordered` side by side. `CancellationError` if the caller is
    ///   cancelled, or the ``TimeoutError`` of an enclosing `withTimeout` scope that
    ///   expires: the items running are cancelled and waited for before it is thrown, so
    ///   none outlives the call. ``WeaveError`` outside a coroutine or when no coroutine
    ///   can be spawned.
    @inlinable
    public func map<Input: Sequence, Value>(
        _ input: Input,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ transform: (Input.Element) throws -> Value
    ) throws -> [Value] {
        try members.map(input, window: .max, fileID: fileID, line: line, transform)
    }

    /// Runs `transform` over `input`, each item in a coroutine of the group, and returns
    /// the results in input order as ``MapResults/next(timeout:)`` asks for them.
    ///
    /// The first `next` starts every item (a group has no bound): the input must be
    /// finite. A failing item's error is thrown when the iteration reaches its index, after
    /// every earlier result. See ``MapResults`` for errors and cancellation. Never blocks.
    @inlinable
    public func imap<Input: Sequence, Value>(
        _ input: Input,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ transform: @escaping (Input.Element) throws -> Value
    ) -> MapResults<Value> {
        MapResults(iteration: MapResults.iteration(over: members, input, ordered: true, window: .max,
                                                   operation: "imap", fileID: fileID, line: line, transform))
    }

    /// Like ``imap(_:fileID:line:_:)``, but returns each result as soon as its item
    /// finishes (gevent's `imap_unordered`); a failure is thrown in its place in completion
    /// order. Never blocks.
    @inlinable
    public func imapUnordered<Input: Sequence, Value>(
        _ input: Input,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ transform: @escaping (Input.Element) throws -> Value
    ) -> MapResults<Value> {
        MapResults(iteration: MapResults.iteration(over: members, input, ordered: false, window: .max,
                                                   operation: "imapUnordered", fileID: fileID, line: line, transform))
    }

    /// Starts `body` in the group and calls `callback` with its outcome when it finishes
    /// (gevent's `apply_async`). Never blocks.
    ///
    /// `callback` runs exactly once, on the hub as the coroutine finishes, with the value or
    /// the error, `CancellationError` included. It must not block: spawn a coroutine from it
    /// for anything that waits.
    ///
    /// - Throws: As ``spawn(name:stackSize:fileID:line:_:)``; `callback` is not called when
    ///   nothing was spawned.
    @discardableResult
    public func submit<Value>(
        name: String? = nil,
        stackSize: Int? = nil,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ body: @escaping () throws -> Value,
        callback: @escaping (Result<Value, any Error>) -> Void
    ) throws -> Coroutine<Value> {
        let child = try spawn(name: name, stackSize: stackSize, fileID: fileID, line: line, body)
        child.onFinish { done in callback(unsafeDowncast(done, to: Coroutine<Value>.self).result.unsafelyUnwrapped) }
        return child
    }

    /// Such as `Group 'handlers' (3 running)`.
    public var description: String { members.waitDescription }
}
