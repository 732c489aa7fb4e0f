/// A spawned coroutine with a typed result: gevent's `Greenlet`, Go's goroutine with a
/// result. Returned by ``spawn(name:stackSize:fileID:line:_:)``.
///
/// ```swift
/// let worker = try spawn(name: "worker") { try fetch(url) }
/// let page = try worker.join(timeout: .seconds(5))
/// ```
public final class Coroutine<Value>: AnyCoroutine {
    // The body's type has a fixed layout whatever `Value` is (a function is two words), so
    // unspecialised code (the vtable's, the deinit) reaches it without generic metadata;
    // a stored `Value?` would need a metadata lookup on every access. The result goes
    // into the non-generic `returned`.

    /// The body until it runs (dropped then, with what it captured).
    @exclusivity(unchecked) private var body: (() throws -> Value)?

    /// Made in the spawning module by the inlinable ``spawn(name:stackSize:fileID:line:_:)``,
    /// so that this type's metadata is a cached constant there, not a lookup per spawn.
    @inlinable
    init(_ body: @escaping () throws -> Value) {
        super.init()
        setBody(body)
    }

    @usableFromInline
    func setBody(_ body: consuming @escaping () throws -> Value) { self.body = body }

    override func run() {
        state = .running
        if isCancelled {
            finishUnstarted()
        } else {
            let body = self.body.unsafelyUnwrapped
            self.body = nil
            // `as Any` keeps an optional result intact (nil stays a value, not a missing one).
            do {
                // A Void result is not stored: `returnedValue` makes it (no existential to box).
                if Value.self == Void.self { _ = try body() } else { returned = try body() as Any }
            } catch {
                failure = error
            }
        }
        complete()
    }

    override func dropBody() { body = nil }

    /// The outcome once finished, nil before.
    public var result: Result<Value, any Error>? {
        guard isFinished else { return nil }
        if let failure { return .failure(failure) }
        return .success(returnedValue)
    }

    /// The value the body returned, nil if it has not finished or threw.
    public var value: Value? {
        guard isFinished, failure == nil else { return nil }
        return returnedValue
    }

    /// What the body returned; only once it has.
    var returnedValue: Value {
        // Void results need no dynamic cast (the common fire-and-join case).
        if Value.self == Void.self { return unsafeBitCast((), to: Value.self) }
        return returned as! Value
    }

    /// The error the body threw (`CancellationError` if cancelled), nil otherwise.
    public var error: (any Error)? { failure }

    /// Waits until the coroutine finishes and returns its value, or rethrows its error.
    ///
    /// Blocks the calling coroutine only. Throws ``TimeoutError`` once `timeout` passes
    /// (the joined coroutine keeps running), `CancellationError` if the caller is
    /// cancelled, and ``WeaveError`` when a coroutine joins itself.
    @discardableResult
    public func join(timeout: Duration? = nil) throws -> Value {
        try waitUntilFinished(timeout: timeout)
        if let failure { throw failure }
        return returnedValue
    }

    /// Waits until the coroutine finishes, whatever its outcome.
    ///
    /// Throws only for the wait itself: ``TimeoutError``, `CancellationError`, ``WeaveError``.
    public func wait(timeout: Duration? = nil) throws {
        try waitUntilFinished(timeout: timeout)
    }
}

extension AnyCoroutine {
    /// Parks the current coroutine until this one has finished.
    func waitUntilFinished(timeout: Duration?) throws {
        if isFinished { return }
        let waiter = try AnyCoroutine.requireCurrent()
        if waiter === self {
            throw WeaveError(.joinSelf, "coroutine \(displayName) tried to join itself")
        }
        let wake = Wakeup(waiter)
        defer { wake.disarm() }
        onFinish { _ in wake.fire() }
        while !isFinished {
            try waiter.park(.join(self), timeout: timeout)
        }
    }
}

/// Wakes a parked coroutine from a completion handler until disarmed; lets a wait leave
/// handlers behind (on coroutines it stopped waiting for) that then do nothing.
final class Wakeup {
    private var target: AnyCoroutine?

    init(_ target: AnyCoroutine) { self.target = target }

    func fire() {
        if let target { target.hub.makeReady(target) }
    }

    func disarm() { target = nil }
}
