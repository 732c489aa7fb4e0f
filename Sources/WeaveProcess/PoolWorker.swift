import WeaveCore

/// A pool's view of one worker process: the tasks it holds, in the order it runs them,
/// and how many more it may be sent.
final class PoolWorker {
    let process: WorkerProcess
    /// Sent and not yet answered, in the order the worker runs them. Unchecked: see
    /// ``ProcessPool/pending``.
    @exclusivity(unchecked) var inFlight = PoolTaskQueue()
    /// The task the worker said it started and has not answered: always the first of
    /// ``inFlight``. When the worker dies, this task and no other fails.
    @exclusivity(unchecked) var running: PoolTask?
    /// The initializer was sent and has not answered: a death now is a failed start.
    var isInitializing = false
    /// Tasks sent over this worker's life (for `maxTasksPerWorker`).
    @exclusivity(unchecked) var sentCount = 0
    /// Whether the worker said it serves (a worker that dies before that never started).
    @exclusivity(unchecked) var isReady = false
    /// No more tasks: it is being replaced or the pool is closing.
    @exclusivity(unchecked) var isRetiring = false
    /// Why the pool killed it, and the task that reason is about (the one running then).
    /// Only the pool's own decisions go here (a timeout, a cancelled caller, a frame it
    /// refused): a death the pool did not cause is reported by its exit status.
    var killReason: (task: PoolTask?, error: any Error)?
    /// The channel failed or ended while the process lived (a write EPIPE, a read error, an
    /// end of stream): said in the death's message; the exit status stays the error.
    var channelFailure: String?
    /// Kills a worker whose channel broke if it does not exit on its own meanwhile.
    var graceTimer: TimerNode?
    /// Tasks it may hold at once; adapts to how long tasks take.
    @exclusivity(unchecked) var window = 2
    /// Smoothed seconds per task, measured between completions while busy.
    @exclusivity(unchecked) var secondsPerTask: Double?
    @exclusivity(unchecked) var lastCompletion: ContinuousClock.Instant?
    @exclusivity(unchecked) var lastCompletionHadNext = false
    @exclusivity(unchecked) var isReferenced = true

    init(process: WorkerProcess) {
        self.process = process
    }

    var hasRoom: Bool { !isRetiring && inFlight.count < window }

    /// Learns from one completion: short tasks earn a deep pipeline (about 2 ms of work
    /// queued per worker), long ones a window of one, so that no worker idles while
    /// another holds a queue. Only the gap after a completion that left the worker with
    /// its next task in hand measures a task: any other gap also holds the round trip,
    /// and learning from it would keep the window shallow and the worker waiting.
    func recordCompletion(at now: ContinuousClock.Instant, nextInHand: Bool) {
        if lastCompletionHadNext, let last = lastCompletion {
            let sample = Double((now - last).components.attoseconds) * 1e-18 + Double((now - last).components.seconds)
            secondsPerTask = secondsPerTask.map { $0 * 0.8 + sample * 0.2 } ?? sample
            if let seconds = secondsPerTask {
                window = max(1, min(256, Int(0.002 / max(seconds, 1e-7))))
            }
        }
        lastCompletion = now
        lastCompletionHadNext = nextInHand
    }

    /// Drops the pool's handlers (they hold the pool unowned): after this, the process
    /// and its channel report to nobody.
    func detach() {
        process.channel.onFrame = { _ in }
        process.channel.onEnd = { _ in }
        process.onExit = { _, _ in }
        process.channel.onBatchDelivered = {}
    }

    /// Stops sending to the worker; kills it if `killing`, else closes its channel so it
    /// exits once it has answered what it holds.
    func retire(killing: Bool) {
        isRetiring = true
        if killing {
            process.kill()
        } else if inFlight.isEmpty {
            process.channel.close()
        }
    }
}
