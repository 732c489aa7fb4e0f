import WeaveCore
import ServiceContextModule

/// The running coroutine's `ServiceContext` (trace ids, baggage for logger metadata
/// providers): a ``CoroutineLocal``, since the `TaskLocal` `ServiceContext.current` does not
/// follow coroutines.
private let coroutineServiceContext = CoroutineLocal<ServiceContext?>(default: nil)

extension Coroutine where Value == Never {
    /// The current coroutine's `ServiceContext`: the one bound with
    /// ``withServiceContext(_:operation:)`` here or in the coroutine that spawned it, or
    /// brought along from the task that submitted the work (``HubThread/run(name:fileID:line:_:)``).
    /// Where none is bound, and outside any coroutine, `ServiceContext.current`.
    ///
    /// ``awaitAsync(timeout:_:)`` runs its task with this context as `ServiceContext.current`.
    public static var serviceContext: ServiceContext? {
        coroutineServiceContext.value ?? ServiceContext.current
    }

    /// Binds `context` as the current coroutine's ``serviceContext`` while `operation`
    /// runs, which may block; coroutines spawned meanwhile inherit it.
    ///
    /// `ServiceContext.$current.withValue` must not be held across a blocking call (see
    /// <doc:HubsAndThreads>): use this in coroutines instead. Outside any coroutine it
    /// binds nothing.
    public static func withServiceContext<R>(_ context: ServiceContext, operation: () throws -> R) rethrows -> R {
        try coroutineServiceContext.withValue(context, operation: operation)
    }

    /// Runs `operation` with `ServiceContext.current` bound to the current coroutine's
    /// ``serviceContext``, for code that reads the task-local (a tracer, a logger's
    /// metadata provider). `operation` must not block: a task-local binding must not be
    /// held across a blocking call.
    public static func bindingServiceContext<R>(_ operation: () throws -> R) rethrows -> R {
        try ServiceContext.$current.withValue(serviceContext, operation: operation)
    }
}

/// `body` bound to the calling task's `ServiceContext.current`, for a coroutine started from
/// Swift concurrency (``HubThread``): the coroutine and those it spawns see it as their
/// ``Coroutine/serviceContext``.
func bindingCallersServiceContext<T>(_ body: @escaping @Sendable () throws -> T) -> @Sendable () throws -> T {
    guard let context = ServiceContext.current else { return body }
    return { try Coroutine.withServiceContext(context, operation: body) }
}

/// `body` bound to the current coroutine's ``Coroutine/serviceContext`` as
/// `ServiceContext.current`, for the task ``awaitAsync(timeout:_:)`` starts.
func bindingCoroutineServiceContext<T>(_ body: @escaping @Sendable () async throws -> T) -> @Sendable () async throws -> T {
    guard let context = Coroutine.serviceContext else { return body }
    return { try await ServiceContext.$current.withValue(context) { try await body() } }
}
