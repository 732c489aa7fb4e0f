import CLibUV
import CWeaveContext

extension Hub {
    /// Runs `body` as the main coroutine of a new hub on the calling thread, and returns
    /// its value or rethrows its error.
    ///
    /// Inside, `spawn`, blocking calls and timers work; outside, they throw. When the body
    /// returns, every coroutine still alive is cancelled and unwound, every libuv handle is
    /// closed, then the loop; only then does `run` return. The calling thread is blocked
    /// throughout: never call it from Swift concurrency's cooperative pool, and never
    /// wait on `@MainActor` work from a hub that runs on the main thread.
    ///
    /// ```swift
    /// try Hub.run {
    ///     let worker = try spawn { try Coroutine.sleep(for: .milliseconds(10)); return 42 }
    ///     print(try worker.join())
    /// }
    /// ```
    ///
    /// The main coroutine is named `main`; dumps and reports give the place `run` was called
    /// from (`fileID` and `line`) as its spawn site.
    ///
    /// - Throws: the body's error; ``DeadlockError`` when every coroutine is parked and
    ///   nothing can wake one (all are cancelled and unwound first); ``WeaveError`` with
    ///   ``WeaveError/Code/nestedRun`` when this thread already runs a hub.
    public static func run<T>(
        configuration: Hub.Configuration = .init(),
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ body: () throws -> T
    ) throws -> T {
        if Hub.current != nil {
            throw WeaveError(.nestedRun, "Hub.run called on a thread that already runs a hub; spawn a coroutine instead")
        }
        let hub = try Hub(configuration: configuration)
        defer { hub.close() }
        // The main coroutine has finished (and dropped the closure) before runMain returns.
        return try withoutActuallyEscaping(body) { body in try hub.runMain(spawnSite: SourceLocation(fileID: fileID, line: line), body) }
    }

    /// Runs `body` as the main coroutine, then shuts down: every coroutine still alive is
    /// cancelled and unwound before this returns.
    func runMain<T>(spawnSite: SourceLocation, _ body: @escaping () throws -> T) throws -> T {
        let main = try spawn(name: "main", stackSize: nil, spawnSite: spawnSite, body)
        mainCoroutine = main
        let deadlock = drive(until: { main.isFinished })
        if deadlock != nil { cancelAll() }
        shutDown()
        mainCoroutine = nil
        if let deadlock { throw deadlock }
        return try main.join()
    }

    /// How far off the next timer must be for the hub to give free stacks back (hrtime ns).
    static let idleStackReleaseMargin: UInt64 = 1_000_000

    /// Runs coroutines and the loop until `done()`; returns the report instead of hanging
    /// when every coroutine is parked and nothing can wake one.
    func drive(until done: () -> Bool) -> DeadlockError? {
        while true {
            weave_sched_run(sched)
            recycleZombies()
            if done() { return nil }
            if timersDeferred { fireTimers() }
            let hasReady = weave_sched_has_ready(sched) != 0
            if !hasReady && uv_loop_alive(loop) == 0 && outsideWork == 0 {
                return deadlockReport()
            }
            // About to block in the poll: a good moment to give free stacks back, unless a
            // timer is due soon: unmapping what a burst of coroutines left can take tens of
            // milliseconds, and every wake-up due meanwhile would be that late.
            if !hasReady {
                if let first = timers.first(), first.deadline < Hub.now() &+ Hub.idleStackReleaseMargin {
                    recycleZombies()
                } else {
                    releaseIdleStacks()
                }
            }
            uv_run(loop, hasReady ? UV_RUN_NOWAIT : UV_RUN_ONCE)
            weave_sched_mark_busy(sched)
            // libuv fires its timer by its millisecond clock; the deadline is in nanoseconds.
            fireDueTimers()
        }
    }

    func deadlockReport() -> DeadlockError {
        // Sorted by id: each holder is found by binary search, not a walk per waiter.
        let live = liveCoroutines()
        return DeadlockError(waiters: live.filter { $0.state == .parked }.map {
            DeadlockError.Waiter(name: $0.name ?? "#\($0.id)", waitingOn: $0.waitReason.description, spawnSite: $0.spawnSite,
                                 id: $0.id, heldBy: holderName(of: $0.waitReason, among: live))
        })
    }

    func cancelAll() {
        for coroutine in liveCoroutines() { coroutine.cancel() }
    }

    /// Cancels what is left and waits for it to unwind, logging (once) the coroutines that
    /// take longer than the grace period.
    func shutDown() {
        sched.pointee.fast_spawn = 0  // isShuttingDown
        cancelAll()
        let grace = addTimer(deadline: Hub.deadline(after: configuration.shutdownGracePeriod), .callback { [unowned self] in
            let live = self.liveCoroutines()
            // Name a few; a million stuck coroutines must not become a 30 MB log line.
            let names = live.prefix(10).map { "\($0.displayName) (spawned at \($0.spawnSite))" }
            // Once a hub: the operator must know why shutdown is slow.
            self.logger.warning("coroutines still running after the shutdown grace period", metadata: [
                "alive": "\(live.count)", "coroutines": .array(names.map { .string($0) }),
                "gracePeriod": "\(self.configuration.shutdownGracePeriod)",
            ])
        })
        if let stuck = drive(until: { aliveCount == 0 }) {
            // Only a coroutine that ignores cancellation and parks uninterruptibly gets here.
            logger.warning("shutdown abandons coroutines that can never finish", metadata: ["deadlock": "\(stuck)"])
            leakedCoroutines = true
        }
        removeTimer(grace)
    }
}
