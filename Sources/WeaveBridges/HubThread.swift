import CWeaveContext
import Glibc
import Synchronization
import WeaveCore
import WeaveDiagnostics

/// A hub running on a thread of its own, driven from Swift concurrency (or any thread):
/// for programs whose main thread belongs to something else (an async `main`, a UI, a
/// server framework).
///
/// ```swift
/// let hubThread = try HubThread(name: "io")
/// let page = try await hubThread.run { try fetch(url) }   // a coroutine on the hub
/// try await hubThread.shutdown()
/// ```
///
/// The hub belongs to the thread this starts: coroutines, queues and sockets created there
/// stay there. `HubThread` itself is `Sendable`: every method may be called from any task
/// or thread, and reaches the hub only through its cross-thread queue. While the hub
/// thread runs, an idle hub waits for submissions (it never reports a deadlock).
/// Dropping the last reference stops the hub without waiting for it; ``shutdown()`` waits.
public final class HubThread: Sendable {
    /// The thread's name (also given to the OS thread, truncated to 15 bytes).
    public let name: String?
    let remote: RemoteQueue
    /// The event the hub's main coroutine waits on; set (on the hub's thread) to stop.
    private let stop: HubBound<Event>
    private let termination = Termination()

    /// Starts a hub on a new thread and returns once it runs.
    ///
    /// - Throws: ``WeaveError`` when the thread cannot be created or the configuration is
    ///   invalid (the hub's own error, raised on its thread, is rethrown here).
    public init(name: String? = nil, configuration: Hub.Configuration = .init()) throws {
        self.name = name
        let startup = Startup()
        let box = Unmanaged.passRetained(ThreadBody(configuration: configuration, name: name, startup: startup))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard status == 0 else {
            box.release()
            throw WeaveError(.invalidArgument, "HubThread\(quoted(name)): pthread_create failed", errno: status)
        }
        pthread_detach(thread)
        switch startup.wait() {
        case .failure(let error):
            throw error
        case .success(let started):
            remote = started.remote
            stop = started.stop
            started.body.termination = termination
            started.ready()
        }
    }

    deinit {
        requestStop()
    }

    /// Runs `body` as a new coroutine on the hub and returns its value, or rethrows its error.
    ///
    /// Suspends the calling task (blocking no thread). Cancelling the task cancels the
    /// coroutine, which then unwinds (`CancellationError` is thrown here unless `body`
    /// returned first). `body` runs on the hub's thread and may block like any coroutine;
    /// its ``Coroutine/serviceContext`` is the task's `ServiceContext.current`.
    ///
    /// - Throws: `body`'s error, `CancellationError`, or ``WeaveError`` with
    ///   ``WeaveError/Code/hubClosed`` once the hub has stopped.
    public func run<T: Sendable>(
        name: String? = nil, fileID: StaticString = #fileID, line: Int = #line,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        let handle = try await spawn(name: name, fileID: fileID, line: line, body)
        return try await withTaskCancellationHandler {
            try await handle.value
        } onCancel: {
            handle.cancel()
        }
    }

    /// Starts `body` as a new coroutine on the hub and returns a handle to await or cancel
    /// it; the coroutine keeps running if the handle is dropped. Its
    /// ``Coroutine/serviceContext`` is the calling task's `ServiceContext.current`.
    ///
    /// - Throws: ``WeaveError`` with ``WeaveError/Code/hubClosed`` once the hub has
    ///   stopped, or ``WeaveError/Code/shuttingDown`` while it stops.
    public func spawn<T: Sendable>(
        name: String? = nil, fileID: StaticString = #fileID, line: Int = #line,
        _ body: @escaping @Sendable () throws -> T
    ) async throws -> CoroutineHandle<T> {
        let body = bindingCallersServiceContext(body)
        return try await withCheckedThrowingContinuation { continuation in
            let site = SourceLocation(fileID: fileID, line: line)
            let sent = remote.send {
                do {
                    let hub = Hub.current.unsafelyUnwrapped
                    continuation.resume(returning: try hub.spawn(name: name, stackSize: nil, spawnSite: site, body).handle())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            if !sent { continuation.resume(throwing: closedError) }
        }
    }

    /// A dump of every coroutine on the hub (``Hub/dump()``), taken on the hub's thread.
    public func dump() async throws -> HubDump {
        try await withCheckedThrowingContinuation { continuation in
            let sent = remote.send { continuation.resume(returning: Hub.current.unsafelyUnwrapped.dump()) }
            if !sent { continuation.resume(throwing: closedError) }
        }
    }

    /// Stops the hub and waits until its thread has finished: coroutines still running are
    /// cancelled and unwound, the loop is closed. Calling it again just waits again.
    ///
    /// - Throws: what `Hub.run` threw on the hub's thread, if anything.
    public func shutdown() async throws {
        requestStop()
        try await termination.wait().get()
    }

    private func requestStop() {
        let stop = self.stop
        remote.send { stop.value.set() }
    }

    private var closedError: WeaveError {
        WeaveError(.hubClosed, "HubThread\(quoted(name)) has stopped")
    }
}

/// How the hub thread ended, for ``HubThread/shutdown()``.
private final class Termination: Sendable {
    private enum State {
        case running([CheckedContinuation<Result<Void, any Error>, Never>])
        case finished(Result<Void, any Error>)
    }

    private let state = Mutex(State.running([]))

    func finish(_ result: Result<Void, any Error>) {
        let waiters = state.withLock { state -> [CheckedContinuation<Result<Void, any Error>, Never>] in
            guard case .running(let waiters) = state else { return [] }
            state = .finished(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    func wait() async -> Result<Void, any Error> {
        await withCheckedContinuation { continuation in
            let finished = state.withLock { state -> Result<Void, any Error>? in
                switch state {
                case .finished(let result): return result
                case .running(var waiters):
                    waiters.append(continuation)
                    state = .running(waiters)
                    return nil
                }
            }
            if let finished { continuation.resume(returning: finished) }
        }
    }
}

/// What the new thread hands back once its hub runs.
private struct Started: Sendable {
    let remote: RemoteQueue
    let stop: HubBound<Event>
    let body: ThreadBody
    /// Lets the hub thread go on (after the creator has filled in `body`'s hooks).
    let ready: @Sendable () -> Void
}

/// The hub thread's code and its hand-over to the creating thread.
private final class ThreadBody: @unchecked Sendable {
    let configuration: Hub.Configuration
    let name: String?
    let startup: Startup
    // Set by the creator before `ready`, read by the hub thread after (ordered by `startup`).
    var termination: Termination?

    init(configuration: Hub.Configuration, name: String?, startup: Startup) {
        self.configuration = configuration
        self.name = name
        self.startup = startup
    }

    func run() {
        if let name { weave_set_thread_name(name) }
        var published = false
        let result = Result<Void, any Error> {
            try Hub.run(configuration: configuration) {
                let hub = Hub.current.unsafelyUnwrapped
                // Submissions come from other threads at any time: an idle hub waits for them.
                hub.beginOutsideWork()
                defer { hub.endOutsideWork() }
                let stop = Event(label: "HubThread stop")
                published = true
                startup.publish(.success(Started(remote: hub.remote, stop: HubBound(stop), body: self,
                                                 ready: { [startup] in startup.release() })))
                startup.awaitRelease()
                // Cancellation (never expected) ends the wait just as a stop does.
                try? stop.wait()
            }
        }
        if !published {
            startup.publish(.failure(result.failure ?? WeaveError(.hubClosed, "HubThread\(quoted(name)) ended before it started")))
            return
        }
        termination?.finish(result)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// A two-step hand-over between the creating thread and the hub thread: the hub publishes
/// what it started, the creator records its hooks, then releases the hub.
private final class Startup: @unchecked Sendable {
    // Allocated: semaphores need stable addresses. Freed in deinit.
    private let published = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let released = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private var value: Result<Started, any Error>?

    init() {
        sem_init(published, 0, 0)
        sem_init(released, 0, 0)
    }

    deinit {
        sem_destroy(published)
        sem_destroy(released)
        published.deallocate()
        released.deallocate()
    }

    func publish(_ value: Result<Started, any Error>) {
        self.value = value
        sem_post(published)
    }

    func wait() -> Result<Started, any Error> {
        while sem_wait(published) != 0 {}
        // Taken, not kept: what was started refers back to the thread body, which holds
        // this object (a cycle that leaked the hub's queue and stop event).
        defer { value = nil }
        return value!
    }

    func release() { sem_post(released) }

    func awaitRelease() { while sem_wait(released) != 0 {} }
}
