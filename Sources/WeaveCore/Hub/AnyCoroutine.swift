import CLibUV
import CWeaveContext

/// A coroutine, whatever its result type: identity, name, cancellation and locals, plus
/// the static calls that act on the current coroutine (``Coroutine/sleep(for:)``, ``Coroutine/yield()``, ...).
///
/// ``Coroutine`` adds the typed result. Coroutines belong to the hub that spawned them:
/// use them only on that hub's thread.
public class AnyCoroutine: CustomStringConvertible {
    package enum State: UInt32 {
        /// In the run queue (not started yet, or woken and not yet running).
        case ready = 0
        case running = 1
        /// Switched out until something makes it ready.
        case parked = 2
        case finished = 3
    }

    // Hot fields opt out of dynamic exclusivity checks: they belong to the hub's thread,
    // and no Weave code holds an access to them across a switch.

    /// The hub that runs this coroutine (unretained: the hub outlives its coroutines, since
    /// `Hub.run` returns only once all have finished). Nil only for a coroutine object
    /// made off any hub, which `launch` then refuses.
    private let hubAddress: UnsafeMutableRawPointer?
    package var hub: Hub { Unmanaged<Hub>.fromOpaque(hubAddress.unsafelyUnwrapped).takeUnretainedValue() }
    /// The control block at the top of this coroutine's stack; nil once finished.
    @usableFromInline @exclusivity(unchecked) var fiber: UnsafeMutablePointer<weave_fiber>?
    /// Lives in the fiber while the coroutine exists, so a wake-up touches no Swift object.
    package var state: State {
        get {
            guard let fiber else { return .finished }
            return State(rawValue: fiber.pointee.state).unsafelyUnwrapped
        }
        set { fiber?.pointee.state = newValue.rawValue }
    }
    @exclusivity(unchecked) private var cancelled = false
    /// Set once the outcome is recorded and the waiters told. Sticky: the fiber's state
    /// says `running` again if the finishing coroutine suspends in a log handler.
    @exclusivity(unchecked) private var completed = false
    /// An error to throw when the coroutine resumes from its current park.
    var resumeError: (any Error)? {
        get { resumed }
        set {
            resumed = newValue
            mirror(WEAVE_INTERRUPT_RESUME_ERROR, newValue != nil)
        }
    }
    @exclusivity(unchecked) private var resumed: (any Error)?
    /// An error to throw at the next suspension point (a `withTimeout` scope that expired
    /// while the coroutine was runnable).
    var pendingError: (any Error)? {
        get { pending }
        set {
            pending = newValue
            mirror(WEAVE_INTERRUPT_PENDING, newValue != nil)
        }
    }
    @exclusivity(unchecked) private var pending: (any Error)?

    /// Keeps an interruption's bit in the fiber in step with the Swift field, so that hot
    /// paths test one word of the fiber instead of this object.
    private func mirror(_ bit: UInt32, _ isSet: Bool) {
        guard let fiber else { return }
        if isSet { fiber.pointee.interrupts |= bit } else { fiber.pointee.interrupts &= ~bit }
    }
    /// What the coroutine is parked on: recorded by `park`, or (for the common wait on a
    /// primitive's queue) read from the fiber, where the wait left it without touching this object.
    package var waitReason: WaitReason {
        get {
            if let fiber, let object = fiber.pointee.wait_object {
                if object == Hub.sleepWaitMarker { return .sleep }
                let operation = UnsafeRawPointer(fiber.pointee.wait_operation.unsafelyUnwrapped).assumingMemoryBound(to: UInt8.self)
                return .primitive(Unmanaged.fromOpaque(object),
                                  WaitOperation(start: operation, count: Int(fiber.pointee.wait_operation_length)))
            }
            return parkReason
        }
        set { parkReason = newValue }
    }
    @exclusivity(unchecked) private var parkReason: WaitReason = .none
    /// What few coroutines use, kept out of line so that spawning and freeing the rest
    /// initialise and destroy less. Created on first use.
    @exclusivity(unchecked) private var extras: Extras?

    final class Extras {
        var finishHandlers: [(AnyCoroutine) -> Void] = []
        var locals: [ObjectIdentifier: Any] = [:]
    }

    private var extrasCreating: Extras {
        if let extras { return extras }
        let created = Extras()
        extras = created
        return created
    }

    /// ``CoroutineLocal`` bindings.
    var locals: [ObjectIdentifier: Any] {
        get { extras?.locals ?? [:] }
        set { extrasCreating.locals = newValue }
    }

    var hasLocals: Bool { !(extras?.locals.isEmpty ?? true) }
    /// Reused for every wait on a primitive; created on first use.
    @exclusivity(unchecked) var ownWaiter: Waiter?
    /// What the body returned (cast back by ``Coroutine``), once finished.
    @exclusivity(unchecked) var returned: Any?
    /// What the body threw, or `CancellationError` if it never ran.
    @exclusivity(unchecked) var failure: (any Error)?

    /// Unique within its hub, in spawn order.
    @exclusivity(unchecked) public internal(set) var id: UInt64 = 0
    /// The name given at spawn, if any.
    @exclusivity(unchecked) public internal(set) var name: String?
    /// Where the coroutine was spawned.
    @exclusivity(unchecked) public internal(set) var spawnSite = SourceLocation(fileID: "", line: 0)
    /// When it was spawned: the hub loop's cached clock (`uv_now`, milliseconds), no syscall.
    @exclusivity(unchecked) package var spawnedAt: UInt64 = 0
    /// Started by ``spawnDetached(name:stackSize:fileID:line:_:)``: its failure is logged (as
    /// an error) where it ends, not by ``complete()``.
    @exclusivity(unchecked) private(set) var isDetached = false
    /// Whether ``cancel()`` was called. Sticky: every later blocking call throws.
    public var isCancelled: Bool { cancelled }

    /// A coroutine of the hub running on this thread, not yet started: ``Hub/launch(_:name:stackSize:spawnSite:)``
    /// gives it a stack and queues it. Made by ``spawn(name:stackSize:fileID:line:_:)``
    /// in the caller's module, so that the typed subclass is specialised there.
    @usableFromInline
    init() {
        hubAddress = weave_sched_current()?.pointee.owner
    }

    /// The object of a detached coroutine, made when something first needs it (see
    /// ``AnyCoroutine/of(_:)``); its identity comes from the fiber. On the fiber's hub thread.
    private init(detached fiber: UnsafeMutablePointer<weave_fiber>) {
        hubAddress = weave_sched_current()?.pointee.owner
        self.fiber = fiber
        id = fiber.pointee.id
        spawnedAt = fiber.pointee.spawned_at
        spawnSite = SourceLocation(
            fileID: UnsafeRawPointer(weave_fiber_spawn_file(fiber)).load(as: StaticString.self),
            line: Int(fiber.pointee.spawn_line))
        cancelled = fiber.pointee.interrupts & WEAVE_INTERRUPT_CANCELLED != 0
        isDetached = true
    }

    /// Makes the object of a detached coroutine and gives it to the fiber, which keeps it
    /// (retained) until the coroutine finishes.
    @inline(never)
    static func attachObject(to fiber: UnsafeMutablePointer<weave_fiber>) -> AnyCoroutine {
        let coroutine = AnyCoroutine(detached: fiber)
        fiber.pointee.owner = Unmanaged.passRetained(coroutine).toOpaque()
        return coroutine
    }

    /// The object of a live coroutine's fiber, made first if the coroutine is detached and
    /// has none yet.
    static func of(_ fiber: UnsafeMutablePointer<weave_fiber>) -> AnyCoroutine {
        if let owner = fiber.pointee.owner { return Unmanaged<AnyCoroutine>.fromOpaque(owner).takeUnretainedValue() }
        return attachObject(to: fiber)
    }

    /// Runs on the coroutine's own stack, from its entry, until the body is done: runs the
    /// body (or not, if cancelled before starting) and records the outcome. ``Coroutine``
    /// overrides it with its body; one call, so that after the coroutine's last switch back
    /// few frames are left to return through (each is a mispredicted return).
    func run() {
        state = .running
        if cancelled { finishUnstarted() }
        complete()
    }

    /// Drops the body unrun: the coroutine was cancelled before it started.
    func dropBody() {}

    /// Whether the body has returned or thrown (or the coroutine was cancelled before it started).
    public var isFinished: Bool { completed || state == .finished }

    /// The name in quotes, or `#id` for an unnamed coroutine.
    public var displayName: String { name.map { "'\($0)'" } ?? "#\(id)" }

    public var description: String { "coroutine \(displayName)" }

    // MARK: - Cancellation

    /// Cancels the coroutine (gevent's `kill`).
    ///
    /// A parked coroutine resumes at once with `CancellationError` thrown from its blocking
    /// call, so its `defer` blocks and deinitializers run as it unwinds. A coroutine that has
    /// not started never runs its body. A running or runnable one sees the error at its next
    /// blocking call. Does not wait: ``Coroutine/join(timeout:)`` does. No effect once finished.
    public func cancel() {
        guard !isFinished, !cancelled else { return }
        cancelled = true
        fiber?.pointee.interrupts |= WEAVE_INTERRUPT_CANCELLED
        if state == .parked {
            resumeError = CancellationError()
            hub.makeReady(self)
        }
    }

    /// Delivers `error` now if parked, else at the next suspension point.
    func interrupt(with error: any Error) {
        if isFinished { return }
        switch state {
        case .parked:
            resumeError = error
            hub.makeReady(self)
        case .ready, .running:
            if pendingError == nil { pendingError = error }
        case .finished:
            break
        }
    }

    // MARK: - Parking (the coroutine's own thread, while it runs)

    /// Switches out until something makes this coroutine ready, then throws the error it
    /// was resumed with, if any. Must be called by the coroutine itself.
    ///
    /// With a `timeout`, throws ``TimeoutError`` once it passes while still parked.
    package final func park(_ reason: WaitReason, timeout: Duration? = nil) throws {
        if fiber.unsafelyUnwrapped.pointee.interrupts != 0 { try throwInterruption() }
        var timer: TimerNode?
        if let timeout {
            timer = hub.addTimer(deadline: Hub.deadline(after: timeout), .failWait(self, reason, timeout))
        }
        defer { if let timer { hub.removeTimer(timer) } }
        waitReason = reason
        state = .parked
        weave_sched_suspend(hub.sched)
        state = .running
        waitReason = .none
        if let error = resumeError {
            resumeError = nil
            throw error
        }
    }

    /// Throws (and clears) the error this coroutine was resumed with.
    final func throwResumeError() throws {
        if let error = resumeError {
            resumeError = nil
            throw error
        }
    }

    /// Parks without giving up on cancellation: for a scope that must wait for its
    /// children whatever happens. Returns the interruption (cancellation or an expired
    /// scope) it absorbed, if any; the caller decides when to rethrow it.
    package final func parkUninterruptibly(_ reason: WaitReason) -> (any Error)? {
        waitReason = reason
        state = .parked
        weave_sched_suspend(hub.sched)
        state = .running
        waitReason = .none
        let error = resumeError
        resumeError = nil
        return error
    }

    // MARK: - Lifecycle

    /// Marks the coroutine finished (its outcome recorded) and tells whoever waits.
    final func complete() {
        completed = true
        state = .finished
        if let extras, !extras.finishHandlers.isEmpty {
            runFinishHandlers(extras)
        } else if failure != nil, !isDetached {
            // (A detached coroutine's failure is logged where it ends, object or not.)
            logUnhandledFailure()
        }
    }

    /// Records the outcome of a detached coroutine whose object exists, and completes it.
    final func complete(failing error: (any Error)?) {
        failure = error
        complete()
    }

    // The rare paths are out of line, so that `run` (which every coroutine's body runs
    // below) keeps a small frame: fewer stack cache lines touched per coroutine.
    @inline(never)
    final func finishUnstarted() {
        dropBody()
        failure = CancellationError()
    }

    @inline(never)
    private func runFinishHandlers(_ extras: Extras) {
        let handlers = extras.finishHandlers
        extras.finishHandlers = []
        for handler in handlers { handler(self) }
    }

    @inline(never)
    private func logUnhandledFailure() {
        guard let failure, !(failure is CancellationError) else { return }
        hub.logger.debug("coroutine failed", metadata: [
            "coroutine": "\(displayName)", "spawnSite": "\(spawnSite)", "error": "\(failure)",
        ])
    }

    /// Calls `handler` once this coroutine finishes (at once if it has). Handlers run on
    /// the finishing coroutine's stack and must not block.
    package final func onFinish(_ handler: @escaping (AnyCoroutine) -> Void) {
        if isFinished { handler(self) } else { extrasCreating.finishHandlers.append(handler) }
    }
}

/// First activation of every coroutine: runs it, then makes the final switch from a frame
/// that holds no Swift reference (the coroutine object may already be gone).
let coroutineEntry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    runCoroutine(raw.unsafelyUnwrapped.assumingMemoryBound(to: weave_fiber.self))
    weave_sched_exit(weave_sched_current())
}

@inline(never)
private func runCoroutine(_ fiber: UnsafeMutablePointer<weave_fiber>) {
    // Balances the retain taken at spawn: the hub keeps a running coroutine alive.
    let coroutine = Unmanaged<AnyCoroutine>.fromOpaque(fiber.pointee.owner).takeRetainedValue()
    coroutine.run()
    // (Finished again: a log handler or finish handler may have suspended in between.)
    fiber.pointee.state = WEAVE_FIBER_FINISHED
    fiber.pointee.owner = nil
    coroutine.fiber = nil
}
