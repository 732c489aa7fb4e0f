import Synchronization
import WeaveCore

/// A `Sendable` handle on a coroutine, for Swift concurrency: await its result from any
/// task or thread, or cancel it, while the coroutine itself stays on its hub's thread.
///
/// Get one with ``Coroutine/handle()`` on the hub's thread, or from ``HubThread/spawn(name:fileID:line:_:)``.
///
/// ```swift
/// let handle = try await hubThread.spawn(name: "fetch") { try fetch(url) }
/// let page = try await handle.value
/// ```
public final class CoroutineHandle<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var waiters: [CheckedContinuation<Result<Value, any Error>, Never>] = []
    }

    /// The coroutine's id on its hub.
    public let id: UInt64
    /// The coroutine's name, if it has one.
    public let name: String?
    private let remote: RemoteQueue
    private let state = Mutex(State())
    /// The coroutine itself, so that ``cancel()`` finds it in O(1) instead of looking its id
    /// up among every live coroutine. Set and read on the hub's thread only (the cancel job
    /// runs there); weak, so a handle never keeps a finished coroutine's object alive.
    nonisolated(unsafe) private weak var target: AnyCoroutine?

    init(id: UInt64, name: String?, remote: RemoteQueue, target: AnyCoroutine) {
        self.id = id
        self.name = name
        self.remote = remote
        self.target = target
    }

    /// Waits (suspending the task, blocking no thread) until the coroutine finishes, and
    /// returns how it ended: its value, its error, or `CancellationError` if it was cancelled.
    ///
    /// Cancelling the awaiting task does not cancel the coroutine (as with `Task.value`);
    /// call ``cancel()`` for that, or use ``HubThread/run(name:fileID:line:_:)``, which does.
    public var result: Result<Value, any Error> {
        get async {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Result<Value, any Error>? in
                    if let result = state.result { return result }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    /// The coroutine's value once it finishes; rethrows its error (`CancellationError` if
    /// it was cancelled). See ``result``.
    public var value: Value {
        get async throws { try await result.get() }
    }

    /// Whether the coroutine has finished. Safe from any thread.
    public var isFinished: Bool { state.withLock { $0.result != nil } }

    /// Cancels the coroutine (``AnyCoroutine/cancel()``) from any thread: the request
    /// travels through the hub's cross-thread queue. No effect once it has finished or its
    /// hub has stopped.
    public func cancel() {
        // The handle is Sendable; its `target` is read only in the job, on the hub's thread.
        remote.send { [self] in self.target?.cancel() }
    }

    /// Records the outcome and resumes every waiting task (hub thread, never blocks).
    func complete(_ result: Result<Value, any Error>) {
        let waiters = state.withLock { state in
            state.result = result
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }
}

extension Coroutine where Value: Sendable {
    /// A `Sendable` handle for awaiting this coroutine from Swift concurrency.
    ///
    /// Hub thread only (like every coroutine method); the handle itself may go anywhere.
    /// Each call makes a new handle; all of them see the same outcome.
    public func handle() -> CoroutineHandle<Value> {
        let handle = CoroutineHandle<Value>(id: id, name: name, remote: hub.remote, target: self)
        onFinish { [unowned(unsafe) self] _ in
            // `result` is set once finished: this handler runs only then.
            handle.complete(self.result.unsafelyUnwrapped)
        }
        return handle
    }
}
