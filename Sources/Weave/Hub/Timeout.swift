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
/// - Throws: ``TimeoutError``, the body's errors, ``WeaveError`` outside a coroutine.
public func withTimeout<R>(
    _ duration: Duration,
    _ label: String = "withTimeout",
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
    defer {
        hub.removeTimer(timer)
        // An expiry not yet delivered belongs to this scope only: never let it leak out.
        if let pending = coroutine.pendingError as? TimeoutError, pending.scopeID == scopeID {
            coroutine.pendingError = nil
        }
    }
    return try body()
}

/// Runs `body` with a deadline; see ``withTimeout(_:_:fileID:line:_:)``.
public func withDeadline<R>(
    _ deadline: ContinuousClock.Instant,
    fileID: StaticString = #fileID,
    line: Int = #line,
    _ body: () throws -> R
) throws -> R {
    try withTimeout(deadline - .now, "withDeadline", fileID: fileID, line: line, body)
}
