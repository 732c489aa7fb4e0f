import Glibc
import Logging

extension Hub {
    /// How a hub sizes stacks, checks exclusivity and shuts down.
    public struct Configuration: Sendable {
        /// Usable bytes of a coroutine stack unless `spawn(stackSize:)` says otherwise.
        /// Virtual: pages are committed only as the stack grows. Default 256 KiB.
        public var stackSize: Int = 256 * 1024
        /// Bytes of the guard region below every stack. Swift emits large frames without
        /// stack probes, so one page is not enough. Default 64 KiB.
        public var guardSize: Int = 64 * 1024
        /// Free stacks kept for reuse per stack size (rounded up to whole slabs), and the most
        /// finished default-size stacks the hub parks for the next spawns. Free stacks above it
        /// are unmapped when the hub goes idle.
        public var stackPoolCapacity: Int = 1024
        /// How stacks are guarded. `WEAVE_GUARD_MODE=mprotect` in the environment forces `.mprotect`.
        public var guardMode: GuardMode = .automatic
        /// How Swift's exclusivity checks see coroutines.
        public var exclusivity: ExclusivityMode = .perCoroutine
        /// Trap, naming the coroutine, when it suspends with an exclusive access still
        /// open (an `inout` or `modify` across a blocking call, which loses updates, and
        /// with `withUnsafeMutableBytes` or `withUnsafeMutableBufferPointer` lets another
        /// coroutine reallocate the storage under a live pointer).
        ///
        /// On by default in every build: release builds too, where nothing else would stop
        /// the stale pointer from corrupting the heap. The check runs only on a switch out of
        /// a coroutine that has an access open (the rare path): a switch with no access open
        /// costs the same either way. Set it to false only for code known not to hold an
        /// access across a blocking call.
        public var trapsOnSuspendedAccess: Bool = true
        /// Poll libuv for I/O and timers at least every this many coroutine hand-offs,
        /// even while coroutines keep each other busy.
        public var pollInterval: Int = 256
        /// At shutdown, how long cancelled coroutines may take to unwind before the hub
        /// logs the ones still running.
        public var shutdownGracePeriod: Duration = .seconds(2)
        /// Where the runtime logs (at debug and trace level, plus a warning at shutdown
        /// for coroutines that do not unwind).
        public var logger: Logger = Logger(label: "weave")
        /// Watch this hub for a coroutine (or callback) that holds the loop longer than
        /// ``blockedLoopThreshold`` without switching, and log it once, at warning level,
        /// with its name, spawn site and how long it has held the loop. One watchdog thread
        /// serves every monitored hub of the process; the hub itself does no extra work per
        /// switch. On by default in debug builds, off in release.
        ///
        /// Provided by the diagnostics layer (`WeaveDiagnostics`, part of `import Weave`),
        /// which installs itself into every hub of a program that links it; in a program
        /// that links only `WeaveCore` this option does nothing.
        public var monitorsBlockedLoop: Bool = Configuration.debugDefault
        /// How long a coroutine may run without switching before the monitor reports it.
        /// Default 100 ms; at least 1 ms.
        public var blockedLoopThreshold: Duration = .milliseconds(100)
        /// Log a dump of every coroutine (``Hub/dump()``) at notice level when the process
        /// receives `SIGUSR1`. The signal watcher never keeps the hub alive. Default off.
        /// Like ``monitorsBlockedLoop``, provided by `WeaveDiagnostics` (part of `import Weave`).
        public var dumpsOnSIGUSR1: Bool = false

        public init() {}

        #if DEBUG
        static let debugDefault = true
        #else
        static let debugDefault = false
        #endif

        func validated() throws(WeaveError) -> Configuration {
            guard stackSize >= 16 * 1024 else {
                throw WeaveError(.invalidArgument, "stackSize \(stackSize) is below the 16 KiB minimum")
            }
            guard guardSize >= 4096 else {
                throw WeaveError(.invalidArgument, "guardSize \(guardSize) is below one page")
            }
            guard pollInterval >= 1, stackPoolCapacity >= 0 else {
                throw WeaveError(.invalidArgument, "pollInterval must be at least 1 and stackPoolCapacity not negative")
            }
            guard blockedLoopThreshold >= .milliseconds(1) else {
                throw WeaveError(.invalidArgument, "blockedLoopThreshold \(blockedLoopThreshold) is below 1 ms")
            }
            var copy = self
            if let mode = getenvString("WEAVE_GUARD_MODE"), mode == "mprotect" { copy.guardMode = .mprotect }
            return copy
        }
    }

    /// How Swift's dynamic exclusivity checks see coroutines.
    public enum ExclusivityMode: Sendable, Equatable {
        /// Each coroutine has its own access set, swapped on every switch as Swift does for
        /// tasks, so an access left open by a suspended coroutine is invisible to the others.
        case perCoroutine
        /// One access set for the whole thread (no swap): an access held across a
        /// suspension conflicts with any other coroutine touching the same memory, and
        /// traps with "Simultaneous accesses". A debugging aid.
        case sharedThread
    }
}

func getenvString(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
