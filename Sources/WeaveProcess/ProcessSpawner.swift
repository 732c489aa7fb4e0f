import CWeaveProcess
import Glibc
import WeaveCore

/// The thread that starts child processes, so that no hub waits for a child's `exec`.
///
/// One thread for the process, started on first use and never ended: the kernel sends a
/// parent-death signal (`PR_SET_PDEATHSIG`) when the *thread* that started a child exits,
/// so children started here get theirs when the process itself dies, whichever hub asked
/// for them and whenever that hub's thread ends. Requests run in arrival order; each holds
/// this thread only until its child has called `exec` (a `CLONE_VFORK` child copies no page
/// tables), so one `exec` that hangs (a program on an unreachable network file system) holds
/// the spawns queued behind it, where it used to hold a whole hub. Every signal is blocked
/// on this thread: handlers run on the hubs' threads.
final class ProcessSpawner: @unchecked Sendable {
    static let shared = ProcessSpawner()

    private struct Job {
        let request: SpawnRequest
        let completion: @Sendable () -> Void
    }

    // Plain pthread primitives at stable heap addresses: taken by hub threads and this
    // thread, never by a parked coroutine. Never freed (the spawner lives as long as the process).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Guarded by `mutex`.
    private var jobs: [Job] = []
    private var state = State.idle

    private enum State { case idle, running, unavailable }

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Queues `request`; `completion` runs on the spawner thread once the child has exec'd
    /// (or failed). Returns false when the thread cannot be started (the caller then spawns
    /// on its own thread).
    func submit(_ request: SpawnRequest, completion: @escaping @Sendable () -> Void) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if state == .idle { state = startThread() ? .running : .unavailable }
        guard state == .running else { return false }
        jobs.append(Job(request: request, completion: completion))
        pthread_cond_signal(condition)
        return true
    }

    private func startThread() -> Bool {
        // Before this process gains a thread (when it has but one, growing the table is
        // cheap): room for a burst of children's pipes and pidfds without the hub's thread
        // waiting for the kernel to grow the table, doubling by doubling.
        weave_spawn_reserve_descriptors(4096)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 512 * 1024)
        // Blocked before the thread exists, so that no signal can ever be delivered to it.
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<ProcessSpawner>.fromOpaque(raw!).takeUnretainedValue().serve()
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
        guard status == 0 else { return false }
        pthread_detach(thread)
        return true
    }

    private func serve() {
        // The children's stack until their exec: one at a time, so one will do.
        let stack = UnsafeMutableRawPointer.allocate(byteCount: SpawnRequest.childStackSize, alignment: 16)
        var batch: [Job] = []
        while true {
            pthread_mutex_lock(mutex)
            while jobs.isEmpty { pthread_cond_wait(condition, mutex) }
            swap(&batch, &jobs)
            pthread_mutex_unlock(mutex)
            for job in batch {
                job.request.run(stack: stack, size: SpawnRequest.childStackSize)
                job.completion()
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
