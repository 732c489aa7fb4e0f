import CWeaveContext
import Glibc
import Logging
import WeaveCore

/// The process's single watchdog thread: notices a hub that has not switched for longer
/// than its threshold while not waiting in libuv's poll, and logs the stall once.
///
/// The hub does no work for it beyond what it already does: the switch path publishes
/// `current` and `switches` with relaxed stores (plain moves), and the loop marks the
/// poll idle once per pass. The watchdog samples those with relaxed loads and reads the
/// running fiber's identity (a C copy of its name and spawn site) only once a stall is
/// seen, through `weave_fiber_peek`, which cannot fault on a stack unmapped meanwhile.
final class BlockedLoopMonitor: @unchecked Sendable {
    static let shared = BlockedLoopMonitor()

    /// One watched hub. `sched` stays valid until ``unregister(_:)`` returns (the hub
    /// unregisters before freeing it, and sampling happens under the registry lock).
    final class Watch {
        let sched: UnsafeMutablePointer<weave_sched>
        let thresholdNanos: UInt64
        let logger: Logger
        /// The hub's thread, to tell hubs apart in reports.
        let threadID: Int32
        /// The hub thread's CPU clock: a report says how much of the time held was CPU
        /// (a busy coroutine) rather than a blocking call or the OS running other threads.
        let cpuClock: clockid_t?
        // Watchdog-thread state (under the registry lock).
        var lastSwitches: UInt64 = .max
        var lastChange: UInt64 = 0
        var cpuAtChange: UInt64 = 0
        var reportedAt: UInt64?

        init(sched: UnsafeMutablePointer<weave_sched>, thresholdNanos: UInt64, logger: Logger, threadID: Int32) {
            self.sched = sched
            self.thresholdNanos = thresholdNanos
            self.logger = logger
            self.threadID = threadID
            var clock = clockid_t()
            cpuClock = pthread_getcpuclockid(pthread_self(), &clock) == 0 ? clock : nil
        }
    }

    /// What one stall report says; built under the lock, logged outside it.
    struct Stall {
        let logger: Logger
        let message: Logger.Message
        let metadata: Logger.Metadata
    }

    // Plain pthread primitives in allocated memory (stable addresses for C). Guard
    // `watches` and `started`; the condition wakes the thread when the first hub arrives.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var watches: [Watch] = []
    private var started = false
    /// Reports made since the process started (for tests of "exactly once").
    private var reportCount = 0

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Starts watching the hub whose scheduler is `sched` (called on the hub's thread).
    func register(sched: UnsafeMutablePointer<weave_sched>, threshold: Duration, logger: Logger) -> Watch {
        let nanos = UInt64(threshold.components.seconds) * 1_000_000_000
            + UInt64(threshold.components.attoseconds / 1_000_000_000)
        let watch = Watch(sched: sched, thresholdNanos: max(nanos, 1_000_000), logger: logger,
                          threadID: weave_thread_id())
        pthread_mutex_lock(mutex)
        watches.append(watch)
        if !started {
            started = true
            startThread()
        }
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
        return watch
    }

    /// Stops watching; once this returns the watchdog no longer touches `watch.sched`.
    func unregister(_ watch: Watch) {
        pthread_mutex_lock(mutex)
        watches.removeAll { $0 === watch }
        pthread_mutex_unlock(mutex)
    }

    var reportsMade: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return reportCount
    }

    private func startThread() {
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<BlockedLoopMonitor>.fromOpaque(raw!).takeUnretainedValue().watchForever()
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
        if status == 0 { pthread_detach(thread) } else { started = false }
    }

    private func watchForever() {
        while true {
            pthread_mutex_lock(mutex)
            while watches.isEmpty { pthread_cond_wait(condition, mutex) }
            // A quarter of the smallest threshold: a stall is seen at most 25% late.
            let interval = min(max(watches.map(\.thresholdNanos).min()! / 4, 1_000_000), 50_000_000)
            let now = monotonicNanos()
            var stalls: [Stall] = []
            for watch in watches {
                if let stall = check(watch, now: now) { stalls.append(stall) }
            }
            reportCount += stalls.count
            pthread_mutex_unlock(mutex)
            // Logging may be slow (a handler doing I/O): never while hubs wait on the lock.
            for stall in stalls {
                stall.logger.warning(stall.message, metadata: stall.metadata)
            }
            var pause = timespec(tv_sec: Int(interval / 1_000_000_000), tv_nsec: Int(interval % 1_000_000_000))
            var left = timespec()
            while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
        }
    }

    /// Updates `watch` from a fresh sample; returns a report for a stall seen the first time.
    private func check(_ watch: Watch, now: UInt64) -> Stall? {
        let sample = weave_sched_sample_of(watch.sched)
        if sample.idle != 0 || sample.switches != watch.lastSwitches {
            watch.lastSwitches = sample.switches
            watch.lastChange = now
            if let clock = watch.cpuClock { watch.cpuAtChange = nanos(of: clock) }
            watch.reportedAt = nil
            return nil
        }
        let held = now - watch.lastChange
        guard held >= watch.thresholdNanos, watch.reportedAt == nil else { return nil }
        var info = weave_fiber_info()
        let copied = sample.current.map { weave_fiber_peek($0, &info) == 0 } ?? false
        // Only a copy taken while the same fiber still runs describes the stall.
        let after = weave_sched_sample_of(watch.sched)
        guard after.switches == sample.switches, after.idle == 0 else { return nil }
        watch.reportedAt = now
        return report(watch, info: copied ? info : nil, heldNanos: held)
    }

    private func report(_ watch: Watch, info: weave_fiber_info?, heldNanos: UInt64) -> Stall {
        let heldMs = heldNanos / 1_000_000
        let thresholdMs = watch.thresholdNanos / 1_000_000
        let cpuMs = watch.cpuClock.map { (nanos(of: $0) &- watch.cpuAtChange) / 1_000_000 }
        var metadata: Logger.Metadata = [
            "heldMs": "\(heldMs)", "thresholdMs": "\(thresholdMs)", "hubThread": "\(watch.threadID)",
        ]
        if var info, info.is_host == 0 {
            let name = withUnsafeBytes(of: &info.name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            let site = withUnsafeBytes(of: &info.site) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            metadata["coroutine"] = "\(name.isEmpty ? "#\(info.id)" : "'\(name)' (#\(info.id))")"
            metadata["spawnSite"] = "\(site.isEmpty ? "unknown" : "\(site):\(info.site_line)")"
        } else if info != nil {
            // A libuv callback or a runtime hook.
            metadata["coroutine"] = "hub"
        } else {
            metadata["coroutine"] = "unidentified"
        }
        if let cpuMs { metadata["cpuMs"] = "\(cpuMs)" }
        // The message is constant; what varies is metadata, as swift-log asks of libraries.
        let message: Logger.Message =
            "blocked loop: a coroutine held the hub thread without switching; move CPU-heavy work to blocking { } or yield"
        return Stall(logger: watch.logger, message: message, metadata: metadata)
    }
}

private func monotonicNanos() -> UInt64 { nanos(of: CLOCK_MONOTONIC) }

private func nanos(of clock: clockid_t) -> UInt64 {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
