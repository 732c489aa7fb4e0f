/// Runs `body`, interrupting it with ``TimeoutError`` if it is still running after
/// `duration` (gevent's `Timeout` / `with_timeout`).
///
/// The error is thrown from whatever blocking call the coroutine is parked in when the
/// time runs out (or from its next one, if it is running then), so `defer` blocks run as
/// it unwinds. Scopes nest: each error carries ``TimeoutError/scope`` (where the scope
/// that fired was opened), an inner scope passes an outer scope's error through, and a
/// scope that ends before firing leaves nothing behind. CPU-bound code that never blocks
/// cannot be interrupted.
///
/// An expiry always reaches the caller. If the deadline fired while `body` ran, this
/// throws the scope's ``TimeoutError`` even when `body` returned normally: a body that
/// swallowed the error (`try?`, a `catch` that falls through, or a non-throwing API such as
/// iterating a ``Channel`` with `for`-`in`, which ends the loop early) does not turn the
/// expiry into a partial result. Likewise, if the coroutine was cancelled while `body` ran
/// and `body` returned normally, this throws `CancellationError`, and an interruption that
/// `body` left pending (an enclosing scope's expiry) is thrown here rather than returned
/// past. An error that `body` throws is rethrown as it is.
///
/// - Throws: ``TimeoutError`` (this scope's, or an enclosing scope's passing through),
///   `CancellationError` if the coroutine is cancelled, the body's errors, ``WeaveError``
///   outside a coroutine.
public func withTimeout<R>(
    _ duration: Duration,
    operation label: String = "withTimeout",
    fileID: StaticString = #fileID,
    line: Int = #line,
    _ body: () throws -> R
) throws -> R {
    let coroutine = try AnyCoroutine.requireCurrent()
    let hub = coroutine.hub
    hub.nextScopeID += 1
    let scopeID = hub.nextScopeID
    let error = TimeoutError(operation: label, timeout: duration,
                             scope: SourceLocation(fileID: fileID, line: line), scopeID: scopeID)
    let timer = hub.addTimer(deadline: Hub.deadline(after: duration), .expireScope(coroutine, error))
    let result: R
    do {
        result = try body()
    } catch let thrown {
        _ = endScope(coroutine, hub, timer, scopeID)
        throw thrown
    }
    let fired = endScope(coroutine, hub, timer, scopeID)
    // Whatever the body swallowed surfaces here: cancellation first (sticky), then an
    // enclosing scope's expiry still pending, then this scope's own.
    try coroutine.throwInterruption()
    if fired { throw error }
    return result
}

/// Closes a `withTimeout` scope: disarms its timer and drops its own expiry if not yet
/// delivered (it must never leak out of the scope). Returns whether the deadline fired.
private func endScope(_ coroutine: AnyCoroutine, _ hub: Hub, _ timer: TimerNode, _ scopeID: UInt64) -> Bool {
    // A timer leaves the heap only when it fires or is removed, and only this scope
    // removes it: still out of the heap here means it fired during the body.
    let fired = !hub.removeTimer(timer)
    if let pending = coroutine.pendingError as? TimeoutError, pending.scopeID == scopeID {
        coroutine.pendingError = nil
    }
    return fired
}

/// Runs `body` with a deadline; see ``withTimeout(_:operation:fileID:line:_:)``.
public func withDeadline<R>(
    _ deadline: ContinuousClock.Instant,
    fileID: StaticString = #fileID,
    line: Int = #line,
    _ body: () throws -> R
) throws -> R {
    try withTimeout(deadline - .now, operation: "withDeadline", fileID: fileID, line: line, body)
}
