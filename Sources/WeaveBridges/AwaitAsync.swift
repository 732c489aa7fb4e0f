import WeaveCore

/// Runs `body` as a Swift `Task` and parks only the calling coroutine until it finishes;
/// the hub keeps running everything else meanwhile.
///
/// ```swift
/// let user = try awaitAsync { try await api.user(id: 42) }
/// ```
///
/// Returns `body`'s value or rethrows its error, including a `CancellationError` the task
/// throws. Cancelling the calling coroutine, or an expiring `timeout`, cancels the task and
/// throws at once (`CancellationError` / ``TimeoutError``) without waiting for the task to
/// notice; its late result is dropped. The result comes back through the hub's cross-thread
/// queue; until it does, the hub counts outside work, so an otherwise idle hub waits for
/// the task instead of reporting a deadlock.
///
/// `body` runs on Swift's cooperative pool, not on the hub's thread: never touch hub
/// objects (coroutines, queues, sockets) inside it. And never make it wait for `@MainActor`
/// work when the hub runs on the main thread: the main thread is busy running the hub, so
/// that work never runs (run the hub on its own thread, ``HubThread``).
///
/// The task sees the coroutine's ``Coroutine/serviceContext`` as `ServiceContext.current`.
///
/// - Throws: `body`'s error, ``TimeoutError``, `CancellationError`, or ``WeaveError`` outside a coroutine.
public func awaitAsync<T: Sendable>(
    timeout: Duration? = nil, _ body: @escaping @Sendable () async throws -> T
) throws -> T {
    let coroutine = try AnyCoroutine.requireCurrent("awaitAsync")
    let body = bindingCoroutineServiceContext(body)
    let outcome = RemoteOutcome<T>(waiter: coroutine)
    let deliver = outcome.deliver
    let task = Task.detached {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        deliver(result)
    }
    do {
        return try outcome.wait(.other("Swift Task (awaitAsync)"), timeout: timeout)
    } catch {
        task.cancel()
        throw error
    }
}
