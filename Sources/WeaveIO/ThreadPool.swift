import Glibc
import WeaveCore

/// A fixed set of OS threads for work that would block a hub: CPU-heavy loops or
/// blocking system calls. Its threads start on first use and end with the pool.
///
/// Use ``blocking(timeout:on:_:)`` from a coroutine; results come back through the hub's
/// cross-thread queue, so only the calling coroutine waits.
///
/// A pool's threads live until ``shutdown()``, or until the last reference to the pool is
/// dropped, which shuts it down: either way the jobs already submitted run to the end,
/// then the threads exit and are joined. The threads never keep the pool alive. ``shared``
/// lives as long as the process.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, one thread per core (at least two). Never shut down.
    public static let shared = ThreadPool(threads: max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), isShared: true)

    /// Threads in the pool.
    public let threadCount: Int
    private let state: State
    private let isShared: Bool

    /// A pool of `threads` threads (at least one), started by the first ``submit(_:)``.
    public convenience init(threads: Int) {
        self.init(threads: threads, isShared: false)
    }

    private init(threads: Int, isShared: Bool) {
        threadCount = max(1, threads)
        state = State()
        self.isShared = isShared
    }

    deinit {
        state.shutdown()
    }

    /// Runs `job` on one of the pool's threads, after the jobs submitted before it have
    /// started (first in, first out). Safe from any thread; never waits for the job.
    ///
    /// The first call starts the threads.
    ///
    /// - Throws: ``WeaveError/Code/threadPoolShutDown`` once the pool is shut down (the job
    ///   does not run), ``WeaveError/Code/threadStartFailed`` when not a single thread of
    ///   the pool could be started (a pool that started some runs with those).
    public func submit(_ job: @escaping @Sendable () -> Void) throws(WeaveError) {
        try state.submit(job, startingThreads: threadCount)
    }

    /// Stops taking jobs, lets the jobs already submitted run to the end, then waits for
    /// every thread of the pool to exit.
    ///
    /// Blocks the calling thread (a hub's too: call it where that is fine, or once the work
    /// is done) until the last job has returned. Later calls, and calls on ``shared``, return
    /// at once. Called from one of the pool's own jobs, it does not wait for that job's
    /// thread, which exits when the job returns. Later ``submit(_:)`` calls throw
    /// ``WeaveError/Code/threadPoolShutDown``. Dropping the last reference to the pool does
    /// the same.
    public func shutdown() {
        if isShared { return }
        state.shutdown()
    }

    /// Whether ``shutdown()`` has been called.
    public var isShutDown: Bool { state.isStopping }
}

extension ThreadPool {
    /// What the pool's threads share with it. Each thread holds it retained, never the
    /// pool, so that dropping the pool runs the pool's deinit, which ends the threads.
    private final class State: @unchecked Sendable {
        // Heap-allocated: a pthread mutex or condition must keep its address while in use,
        // which a stored property does not promise. Owned by this object, destroyed in its
        // deinit, which runs only after every thread has let go of it.
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        /// Signalled when a job arrives or the pool stops.
        private let condition: UnsafeMutablePointer<pthread_cond_t>
        // Guarded by `mutex`.
        private var jobs = FIFO<@Sendable () -> Void>()
        private var threads: [pthread_t] = []
        private var started = false
        private var stopping = false

        init() {
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex, nil)
            condition = .allocate(capacity: 1)
            condition.initialize(to: pthread_cond_t())
            pthread_cond_init(condition, nil)
        }

        deinit {
            pthread_cond_destroy(condition)
            condition.deinitialize(count: 1)
            condition.deallocate()
            pthread_mutex_destroy(mutex)
            mutex.deinitialize(count: 1)
            mutex.deallocate()
        }

        var isStopping: Bool {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return stopping
        }

        func submit(_ job: @escaping @Sendable () -> Void, startingThreads count: Int) throws(WeaveError) {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            if stopping {
                throw WeaveError(.threadPoolShutDown, "ThreadPool is shut down: it takes no more jobs")
            }
            if !started {
                var failure: Int32 = 0
                for _ in 0..<count {
                    let status = startThread()
                    if status != 0 { failure = status }
                }
                guard !threads.isEmpty else {
                    throw WeaveError(.threadStartFailed, "ThreadPool could not start any of its \(count) threads",
                                     errno: failure)
                }
                started = true
            }
            jobs.append(job)
            pthread_cond_signal(condition)
        }

        /// Starts one thread holding this state (under `mutex`); returns pthread_create's status.
        private func startThread() -> Int32 {
            let retained = Unmanaged.passRetained(self)
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let state = Unmanaged<State>.fromOpaque(raw.unsafelyUnwrapped).takeRetainedValue()
                state.work()
                return nil
            }, retained.toOpaque())
            if status != 0 {
                retained.release()
                return status
            }
            threads.append(thread)
            return 0
        }

        /// A thread's life: run jobs until the pool stops and none is left.
        private func work() {
            // Each job (and whatever it captured) is released before the next `nextJob`
            // takes the lock: a job that drops the last reference to the pool shuts it down.
            while let job = nextJob() { job() }
        }

        private func nextJob() -> (@Sendable () -> Void)? {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            while true {
                if let job = jobs.popFirst() { return job }
                if stopping { return nil }
                pthread_cond_wait(condition, mutex)
            }
        }

        func shutdown() {
            pthread_mutex_lock(mutex)
            if stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            stopping = true
            let joining = threads
            threads = []
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
            let current = pthread_self()
            for thread in joining {
                // A job shutting down its own pool cannot wait for its own thread: that
                // thread exits when the job returns, holding the state until then.
                if pthread_equal(thread, current) != 0 {
                    pthread_detach(thread)
                } else {
                    pthread_join(thread, nil)
                }
            }
        }
    }
}

/// Runs `body` on a ``ThreadPool`` (``ThreadPool/shared`` unless `pool` says otherwise) and
/// parks only the calling coroutine until it returns (gevent's `threadpool.apply`); the hub
/// keeps running everything else.
///
/// Returns `body`'s value or rethrows its error. Cancelling the caller, or an expiring
/// `timeout`, stops the wait at once (``TimeoutError`` / `CancellationError`) but cannot stop
/// `body`: it runs to the end on its thread and its result is dropped. Never touch hub
/// objects (coroutines, queues, sockets) inside `body`.
///
/// - Throws: `body`'s error, ``TimeoutError``, `CancellationError`, ``WeaveError`` outside a
///   coroutine or when `pool` takes no job (``WeaveError/Code/threadPoolShutDown``,
///   ``WeaveError/Code/threadStartFailed``).
public func blocking<T: Sendable>(
    timeout: Duration? = nil, on pool: ThreadPool = .shared, _ body: @escaping @Sendable () throws -> T
) throws -> T {
    let coroutine = try AnyCoroutine.requireCurrent("blocking")
    let outcome = RemoteOutcome<T>(waiter: coroutine)
    let deliver = outcome.deliver
    do {
        try pool.submit { deliver(Result { try body() }) }
    } catch {
        // Through the same path as a result, so the outside work the outcome counts ends.
        deliver(.failure(error))
    }
    return try outcome.wait(.other("blocking call on the thread pool"), timeout: timeout)
}
