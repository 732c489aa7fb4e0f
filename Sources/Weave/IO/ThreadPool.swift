import Glibc

/// A fixed set of OS threads for work that would block a hub: CPU-heavy loops or
/// blocking system calls. Shared by every hub of the process; its threads start on first use.
///
/// Use ``blocking(timeout:on:_:)`` from a coroutine; results come back through the hub's
/// cross-thread queue, so only the calling coroutine waits.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, one thread per core (at least two).
    public static let shared = ThreadPool(threads: max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))

    /// Threads in the pool.
    public let threadCount: Int
    // Guarded by `mutex`; `condition` signals new jobs. Plain pthread primitives: jobs are
    // queued from hub threads and taken by workers, never by a coroutine that waits.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var jobs: [@Sendable () -> Void] = []
    private var started = false

    /// A pool of `threads` threads (started on first use).
    public init(threads: Int) {
        threadCount = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Runs `job` on one of the pool's threads. Safe from any thread.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&mutex)
        if !started {
            started = true
            for _ in 0..<threadCount { startWorker() }
        }
        jobs.append(job)
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    private func startWorker() {
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadPool>.fromOpaque(raw!).takeUnretainedValue().work()
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
        if status == 0 { pthread_detach(thread) }
    }

    private func work() {
        while true {
            pthread_mutex_lock(&mutex)
            while jobs.isEmpty { pthread_cond_wait(&condition, &mutex) }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(&mutex)
            job()
        }
    }
}

/// Runs `body` on ``ThreadPool/shared`` and parks only the calling coroutine until it
/// returns (gevent's `threadpool.apply`); the hub keeps running everything else.
///
/// Returns `body`'s value or rethrows its error. Cancelling the caller, or an expiring
/// `timeout`, stops the wait at once (``TimeoutError`` / `CancellationError`) but cannot stop
/// `body`: it runs to the end on its thread and its result is dropped. Never touch hub
/// objects (coroutines, queues, sockets) inside `body`.
public func blocking<T: Sendable>(
    timeout: Duration? = nil, on pool: ThreadPool = .shared, _ body: @escaping @Sendable () throws -> T
) throws -> T {
    let coroutine = try AnyCoroutine.requireCurrent("blocking")
    let outcome = RemoteOutcome<T>(waiter: coroutine)
    let deliver = outcome.deliver
    pool.submit { deliver(Result { try body() }) }
    return try outcome.wait(.other("blocking call on the thread pool"), timeout: timeout)
}
