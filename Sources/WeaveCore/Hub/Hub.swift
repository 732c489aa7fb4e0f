import CLibUV
import CWeaveContext
import Glibc
import Logging

/// The scheduler of one thread: a libuv loop, a run queue of coroutines, their stacks and
/// a timer heap.
///
/// A hub belongs to the thread that runs it and is never shared: coroutines never migrate,
/// and every method must be called on that thread. ``Hub/run(configuration:_:)`` creates
/// one, runs it and closes it. Other threads reach a hub only through its cross-thread
/// queue (a single `uv_async_t`).
public final class Hub {
    package let configuration: Configuration
    /// Hot scheduler state in manually managed memory, so the switch path touches no
    /// Swift object and begins no exclusivity access. Owned by the hub; freed in `close`.
    @usableFromInline package let sched: UnsafeMutablePointer<weave_sched>
    /// Owned by the hub; freed after `uv_loop_close`.
    package let loop: UnsafeMutablePointer<uv_loop_t>
    /// The hub's single timer; freed in its close callback.
    let timerHandle: UnsafeMutablePointer<uv_timer_t>
    /// Runs just before libuv polls for I/O; freed in its close callback. Timers and other
    /// callbacks that run earlier in the same loop pass can make coroutines ready, and the
    /// poll must then not block (it would sleep until the next event with work waiting).
    let prepareHandle: UnsafeMutablePointer<uv_prepare_t>
    let stacks: StackAllocator
    package let remote: RemoteQueue
    package let logger: Logger

    @exclusivity(unchecked) var timers = TimerHeap()
    /// The deadline the uv timer was last armed for (hrtime ns), nil when stopped.
    @exclusivity(unchecked) var armedDeadline: UInt64?
    /// When the uv timer expires on libuv's clock (`uv_now` ms), nil when stopped.
    @exclusivity(unchecked) var armedExpiry: UInt64?
    /// A batch of due timers stopped before an interruption, so that the coroutines that
    /// earlier timers woke run first (see `fireTimers`); the rest fires after the next pass.
    @exclusivity(unchecked) var timersDeferred = false
    var nextScopeID: UInt64 = 0
    /// Work in flight outside the loop (thread pool, bridges, children) that will wake a
    /// coroutine later: while non-zero, an idle loop is waiting, not deadlocked.
    var outsideWork = 0
    /// Set once `close` has closed the cross-thread queue's handle.
    var isRemoteHandleClosed = false
    /// Set once shutdown begins: spawning is refused from then on (the C fast paths read
    /// the same flag).
    var isShuttingDown: Bool { sched.pointee.fast_spawn == 0 }
    var mainCoroutine: AnyCoroutine?
    /// Open resources of higher layers (sockets, watchers), closed at shutdown.
    var resources: [ObjectIdentifier: UnretainedResource] = [:]
    /// Per-hub state of higher layers, keyed by the owning type (such as the I/O layer's
    /// table of fd watchers): the hub keeps it without knowing what it is.
    package var layerState: [ObjectIdentifier: AnyObject] = [:]
    /// Set when shutdown had to abandon coroutines: their stacks are then never freed.
    var leakedCoroutines = false
    /// Whether a detached coroutine's failure was logged at warning level once already.
    var warnedDetachedFailure = false
    /// The thread's alternate signal stack while the hub runs (a stable address for C).
    let altstackStorage: UnsafeMutablePointer<weave_altstack>
    /// What higher layers run beside this hub (see ``HubHooks``), oldest first.
    var attachments: [any HubAttachment] = []

    /// The hub running on the calling thread, or nil.
    public static var current: Hub? {
        guard let sched = weave_sched_current() else { return nil }
        return Unmanaged<Hub>.fromOpaque(sched.pointee.owner).takeUnretainedValue()
    }

    init(configuration: Configuration) throws(WeaveError) {
        let configuration = try configuration.validated()
        self.configuration = configuration
        self.logger = configuration.logger
        self.stacks = StackAllocator(stackSize: configuration.stackSize, guardSize: configuration.guardSize,
                                     poolCapacity: configuration.stackPoolCapacity, guardMode: configuration.guardMode)

        sched = .allocate(capacity: 1)
        weave_sched_init(sched)
        sched.pointee.poll_interval = UInt32(clamping: configuration.pollInterval)
        sched.pointee.swap_exclusivity = configuration.exclusivity == .perCoroutine ? 1 : 0
        sched.pointee.check_exclusivity = configuration.trapsOnSuspendedAccess ? 1 : 0
        sched.pointee.exclusivity_head = weave_probe_exclusivity_head()
        sched.pointee.stack_cache_capacity = UInt32(clamping: configuration.stackPoolCapacity)
        sched.pointee.stack_cache_span = stacks.stackSize
        sched.pointee.fast_spawn = 1

        altstackStorage = .allocate(capacity: 1)
        loop = .allocate(capacity: 1)
        let status = uv_loop_init(loop)
        timerHandle = .allocate(capacity: 1)
        prepareHandle = .allocate(capacity: 1)
        let asyncHandle = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
        remote = RemoteQueue(handle: asyncHandle)
        guard status == 0 else {
            loop.deallocate()
            timerHandle.deallocate()
            prepareHandle.deallocate()
            asyncHandle.deallocate()
            sched.deallocate()
            altstackStorage.deallocate()
            throw WeaveError(.invalidArgument, "uv_loop_init failed: \(UVError(status, operation: "uv_loop_init"))")
        }

        sched.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
        // What `uv_now` returns, read in place on every spawn (no call).
        sched.pointee.clock = withUnsafeMutablePointer(to: &loop.pointee.time) { UnsafePointer($0) }
        loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_init(loop, timerHandle)
        timerHandle.pointee.data = loop.pointee.data
        uv_prepare_init(loop, prepareHandle)
        prepareHandle.pointee.data = loop.pointee.data
        uv_prepare_start(prepareHandle, hubPrepareCallback)
        uv_unref(UnsafeMutableRawPointer(prepareHandle).assumingMemoryBound(to: uv_handle_t.self))
        uv_async_init(loop, asyncHandle, hubAsyncCallback)
        asyncHandle.pointee.data = loop.pointee.data
        // Internal handles never keep the loop alive on their own: an idle loop with
        // parked coroutines is a deadlock, unless outside work is pending (see `outsideWork`).
        uv_unref(UnsafeMutableRawPointer(asyncHandle).assumingMemoryBound(to: uv_handle_t.self))

        weave_sched_set_current(sched)
        // libuv leaves SIGPIPE fatal; a peer closing a socket must be an error, not death.
        signal(SIGPIPE, SIG_IGN)
        weave_install_overflow_handler()
        altstackStorage.initialize(to: weave_altstack())
        _ = weave_altstack_install(altstackStorage, 64 * 1024)
        startAttachments()
    }

    // MARK: - Counters

    /// Coroutines spawned on this hub that have not finished (the main body included).
    public var aliveCount: Int { Int(sched.pointee.alive_count) }

    /// Coroutines waiting in the run queue.
    public var readyCount: Int { Int(sched.pointee.ready_count) }

    /// Context switches made so far.
    public var switchCount: UInt64 { sched.pointee.switches }

    /// Free stacks kept for reuse.
    public var pooledStackCount: Int {
        releaseIdleStacks()
        return stacks.freeCount
    }

    /// The most free stacks the pool keeps (``Configuration/stackPoolCapacity`` rounded up
    /// to whole slabs).
    public var stackPoolLimit: Int { stacks.poolLimit }

    /// Stacks currently owned by coroutines.
    public var stacksInUse: Int {
        releaseIdleStacks()
        return stacks.inUse
    }

    /// Whether switches skip the exclusivity swap's runtime calls while no access is open
    /// (the thread's access list was found at start; see `weave_probe_exclusivity_head`).
    var skipsEmptyExclusivitySwaps: Bool { sched.pointee.exclusivity_head != nil }

    /// Whether stacks are guarded by `mprotect` (the fallback) rather than `MADV_GUARD_INSTALL`.
    public var usesMprotectGuards: Bool { stacks.usesMprotect }

    /// xorshift64* state for cheap fair choices (select); a syscall-backed generator would
    /// cost more than the choice is worth.
    var randomState: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// A pseudo-random number in `0..<bound`.
    func random(below bound: Int) -> Int {
        randomState ^= randomState >> 12
        randomState ^= randomState << 25
        randomState ^= randomState >> 27
        return Int((randomState &* 0x2545_F491_4F6C_DD1D) % UInt64(bound))
    }

    // MARK: - Scheduling primitives (hub thread only)

    /// Makes a parked coroutine runnable again.
    @inlinable @inline(__always)
    package func makeReady(_ coroutine: AnyCoroutine) {
        guard let fiber = coroutine.fiber else { return }
        weave_fiber_wake(sched, fiber)
    }

    /// Gives free stacks back: those parked in the C-side cache return to their pools, and
    /// each pool unmaps what it holds above its cap. The cache keeps spawning cheap while the
    /// hub is busy, and pools keep memory through bursts; the hub calls this whenever it goes
    /// idle, and before reporting pool figures, so the cap holds once the burst is over.
    func releaseIdleStacks() {
        recycleZombies()
        var cached = weave_sched_take_stack_cache(sched)
        while let fiber = cached {
            cached = fiber.pointee.next
            stacks.release(fiber)
        }
        stacks.trim()
    }

    /// Returns the stacks of finished coroutines to the allocator.
    func recycleZombies() {
        var zombie = weave_sched_take_zombies(sched)
        while let fiber = zombie {
            zombie = fiber.pointee.next
            weave_fiber_destroy(fiber)
            stacks.release(fiber)
        }
    }

    /// Marks outside work as pending: the loop then waits for it instead of reporting a deadlock.
    package func beginOutsideWork() {
        outsideWork += 1
        if outsideWork == 1 && !isRemoteHandleClosed { uv_ref(remote.uvHandle) }
    }

    package func endOutsideWork() {
        precondition(outsideWork > 0, "unbalanced endOutsideWork")
        outsideWork -= 1
        // A libuv request abandoned by a cancelled coroutine can complete while `close`
        // drains the loop, after the async handle is closed (and freed): leave it alone then.
        if outsideWork == 0 && !isRemoteHandleClosed { uv_unref(remote.uvHandle) }
    }

    /// Every live coroutine, in spawn order.
    package func liveCoroutines() -> [AnyCoroutine] {
        var result: [AnyCoroutine] = []
        var fiber = sched.pointee.all_head
        while let current = fiber {
            // (A detached coroutine gets its object here.)
            if current.isLiveCoroutine { result.append(AnyCoroutine.of(current)) }
            fiber = current.pointee.all_next
        }
        return result.sorted { $0.id < $1.id }
    }
}

/// Keeps the poll from blocking while coroutines are ready (`uv_stop` makes libuv's poll
/// timeout zero for this pass), and otherwise arms the timer from the current time just
/// before the poll, so that the poll's timeout counts from the same millisecond as the
/// delay (see `Hub.timerDelay`).
private let hubPrepareCallback: @convention(c) (UnsafeMutablePointer<uv_prepare_t>?) -> Void = { handle in
    guard let data = handle?.pointee.data else { return }
    let hub = Unmanaged<Hub>.fromOpaque(data).takeUnretainedValue()
    if weave_sched_has_ready(hub.sched) != 0 {
        uv_stop(hub.loop)
    } else if hub.armedDeadline != nil {
        hub.armTimer()
    }
    // The poll may block from here: waiting for I/O is idle time, not a stalled loop.
    weave_sched_mark_idle(hub.sched)
}

/// Drains the cross-thread queue on the hub's thread.
private let hubAsyncCallback: @convention(c) (UnsafeMutablePointer<uv_async_t>?) -> Void = { handle in
    guard let data = handle?.pointee.data else { return }
    let hub = Unmanaged<Hub>.fromOpaque(data).takeUnretainedValue()
    for job in hub.remote.drain() { job() }
}
