/// The results of a lazy map over a ``Pool`` or a ``Group`` (gevent's `imap` and
/// `imap_unordered`), read one at a time with ``next(timeout:)``, or with a `for` loop.
///
/// Like every stream of results in Weave, ``next(timeout:)`` returns the next value and
/// throws an item's error, while a `for` loop gets each value or the error as a `Result`,
/// so no error is ever lost:
///
/// ```swift
/// let pages = pool.imap(urls) { url in try fetch(url) }
/// while let page = try pages.next() { index(page) }
/// // or
/// for page in pool.imap(urls, fetch) {
///     do { index(try page.get()) } catch { log(error) }  // a failure is the last element
/// }
/// ```
///
/// Nothing runs until the first ``next(timeout:)``. From then on the input is consumed
/// lazily: an item is taken only when a slot is free and fewer than the bound (the pool's
/// size) are outstanding, counting items running and results not yet returned, so an
/// infinite input is fine. (A ``Group`` has no bound: its first `next` takes the whole
/// input.) Each item runs in a coroutine of the pool, named after the pool's label, which
/// counts in ``Pool/count`` and is waited for by ``Pool/join(timeout:raiseError:)``.
///
/// A failure takes its place among the results, as in gevent: every result before it is
/// returned first, then ``next(timeout:)`` rethrows it and the iteration ends. The three
/// maps side by side, when an item's transform throws:
///
/// | | results before the error | items after it | error thrown |
/// |---|---|---|---|
/// | `imap` | every lower input index, in order (items still running there run on) | higher indices: cancelled, input no longer taken | the failure at the lowest input index |
/// | `imapUnordered` | every item that finished before the failure, in completion order | still running: cancelled, input no longer taken | the first failure in completion order |
/// | `map` | none (it returns all or throws), but items at lower indices still finish first | as `imap` | as `imap` |
///
/// So with item 3 finished and item 4 failed, `imap` returns 0, 1, 2, 3, then throws item
/// 4's error; should item 1 fail afterwards, its error is thrown after 0 instead.
/// Cancelling an item (``Pool/cancelAll()``) is a failure like any other, with
/// `CancellationError`. Dropping the object (a loop left early) cancels the items still
/// running without waiting; ``close()`` cancels and waits.
///
/// One consumer at a time, on the hub's thread.
public final class MapResults<Value>: CustomStringConvertible {
    @usableFromInline let iteration: MapIteration

    @usableFromInline
    init(iteration: MapIteration) {
        self.iteration = iteration
    }

    deinit {
        // Nobody can read these results any more: stop the work (without waiting: a
        // deinit cannot block). The pool still tracks the coroutines until they unwind.
        iteration.abandon()
    }

    /// Builds a lazy map over `members`; inlined at the caller, so the input and the
    /// transform are handled by specialised code.
    @inlinable
    static func iteration<Input: Sequence>(
        over members: MemberSet, _ input: Input, ordered: Bool, window: Int, operation: StaticString,
        fileID: StaticString, line: Int, _ transform: @escaping (Input.Element) throws -> Value
    ) -> MapIteration {
        var iterator = input.makeIterator()
        let name = members.label
        let spawner: MapIteration.Spawner = {
            guard let item = iterator.next() else { return nil }
            return try spawn(name: name, fileID: fileID, line: line) { () throws -> Value in try transform(item) }
        }
        return MapIteration(members: members, ordered: ordered, window: window, operation: operation, spawner: spawner)
    }

    /// Returns the next result, waiting for it; nil once every input item has been returned.
    ///
    /// In input order for `imap` (a slow item holds back the ones after it), in completion
    /// order for `imapUnordered`. Blocks on the items still running and, when none of this
    /// iteration's items runs, on a free slot of the pool (first come, first served). Before
    /// returning it takes the next input items that fit, so the pool stays busy while the
    /// caller works on the result.
    ///
    /// - Throws: An item's error once every result before it has been returned (the items
    ///   after it are cancelled and waited for first; the iteration then ends; see
    ///   ``MapResults`` for which error and when). ``TimeoutError`` once
    ///   `timeout` passes: the iteration goes on, and a later call picks up where this one
    ///   stopped. `CancellationError` if the caller is cancelled, and the ``TimeoutError``
    ///   of an enclosing `withTimeout` scope that expires: the items still running are then
    ///   cancelled and waited for before it is thrown, and the iteration ends.
    ///   ``WeaveError`` outside a coroutine, or when no coroutine can be spawned.
    @inlinable
    public func next(timeout: Duration? = nil) throws -> Value? {
        guard let child = try iteration.nextFinished(timeout: timeout) else { return nil }
        return try MapResults.value(of: child)
    }

    /// The value of an item that finished successfully.
    @inlinable
    static func value(of child: AnyCoroutine) throws -> Value {
        try unsafeDowncast(child, to: Coroutine<Value>.self).result.unsafelyUnwrapped.get()
    }

    /// Ends the iteration: cancels the items still running and waits until they have
    /// unwound (even if the caller is cancelled meanwhile: an interruption is kept for the
    /// caller's next blocking call). Later ``next(timeout:)`` calls return nil.
    ///
    /// Outside a coroutine it only cancels them.
    public func close() {
        iteration.close()
    }

    /// Such as `imap over Pool 'crawl' (3 of 10 busy)`.
    public var description: String { "\(iteration.operation) over \(iteration.members.waitDescription)" }
}

extension MapResults: Sequence {
    /// The results for a `for` loop: each value as `.success`, and the error that ends the
    /// iteration (an item's failure, the caller's cancellation, an expired timeout scope)
    /// as a last `.failure`.
    public func makeIterator() -> Iterator { Iterator(results: self) }

    /// See ``MapResults/makeIterator()``.
    public struct Iterator: IteratorProtocol {
        let results: MapResults
        var ended = false

        public mutating func next() -> Result<Value, any Error>? {
            if ended { return nil }
            do {
                if let value = try results.next() { return .success(value) }
                ended = true
                return nil
            } catch {
                ended = true
                return .failure(error)
            }
        }
    }
}

extension MemberSet {
    /// `map` for pools and groups: the ordered lazy map, collected. The transform does not
    /// escape: every item has finished (or unwound) before this returns or throws.
    @inlinable
    func map<Input: Sequence, Value>(
        _ input: Input, window: Int, fileID: StaticString, line: Int,
        _ transform: (Input.Element) throws -> Value
    ) throws -> [Value] {
        try withoutActuallyEscaping(transform) { transform in
            var values: [Value] = []
            values.reserveCapacity(Swift.min(input.underestimatedCount, 1 << 16))
            let iteration = MapResults.iteration(over: self, input, ordered: true, window: window, operation: "map",
                                                 fileID: fileID, line: line, transform)
            defer { iteration.abandon() }
            while let child = try iteration.nextFinished(timeout: nil) {
                values.append(try MapResults.value(of: child))
            }
            return values
        }
    }
}
