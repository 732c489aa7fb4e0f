import CWeaveContext
import Glibc
import Synchronization

/// Several hubs, one per thread, started and stopped together: how a program uses every core.
///
/// ```swift
/// try HubGroup.run { group in
///     for job in jobs { try group.spawn { handle(job) } }        // round-robin over the hubs
///     let total = try group.hub(1).run { sum(of: part) }         // on hub 1; this coroutine parks
/// }
/// ```
///
/// Hub 0 is the thread that calls ``run(hubs:pinsThreadsToCores:configuration:_:)``: the
/// body runs there as its main coroutine. Hubs 1 to `count - 1` run on threads the group
/// starts. Each hub has its own loop, timers, stacks and deadlock detection, as a hub run
/// alone has. Coroutines never migrate: one spawned onto a hub runs, parks and finishes
/// there, and hub-local objects (coroutines, ``Event``, ``Channel``, ``Queue``, ``Lock``...)
/// stay on the hub that made them. Between hubs, use ``Member/run(name:fileID:line:_:)``
/// and ``CrossHubChannel``.
///
/// The group itself is `Sendable`: any thread may spawn onto its hubs.
public final class HubGroup: Sendable {
    /// How many hubs (and threads) the group runs.
    public let count: Int
    /// One handle per hub, by index.
    public let hubs: [Member]
    /// Hub threads 1... (joinable; joined once they have stopped).
    private let threads: [pthread_t]
    private let roundRobin = Atomic<Int>(0)
    let control: GroupControl

    private init(hubs: [Member], threads: [pthread_t], control: GroupControl) {
        self.count = hubs.count
        self.hubs = hubs
        self.threads = threads
        self.control = control
    }

    /// Runs `body` as the main coroutine of hub 0 on the calling thread, with `hubs - 1`
    /// more hubs on threads of their own, and returns the body's value once every hub has
    /// stopped.
    ///
    /// Blocks the calling thread throughout (never call it from Swift concurrency's
    /// cooperative pool; see <doc:HubsAndThreads>). When the body returns or throws, every
    /// other hub is stopped: its coroutines are cancelled and unwound (each hub's
    /// ``Hub/Configuration/shutdownGracePeriod`` applies), its loop closed and its thread
    /// joined, while hub 0 keeps serving cross-hub calls and replies; then hub 0 shuts down
    /// as `Hub.run` does.
    ///
    /// A deadlock on any hub (every coroutine of that hub parked on something only that hub
    /// could set) ends the group: that hub's coroutines are cancelled, the body is cancelled,
    /// and `run` throws the ``DeadlockError``, whose ``DeadlockError/hub`` names the hub.
    /// A coroutine parked on another hub's result or on a ``CrossHubChannel`` is waiting,
    /// not deadlocked.
    ///
    /// - Parameters:
    ///   - hubs: How many hubs; by default the cores this process may run on
    ///     (``availableCores``). Must be at least 1.
    ///   - pinsThreadsToCores: Pins hub `i`'s thread to the `i`-th core this process may
    ///     run on (wrapping around); the calling thread's affinity is restored afterwards.
    ///   - configuration: Each hub's configuration.
    ///   - body: The group's main work.
    /// - Throws: the body's error; ``DeadlockError``; ``WeaveError`` with
    ///   ``WeaveError/Code/nestedRun`` on a thread that already runs a hub, or
    ///   ``WeaveError/Code/threadStartFailed`` when a hub thread cannot be started.
    public static func run<T>(
        hubs count: Int = HubGroup.availableCores,
        pinsThreadsToCores: Bool = false,
        configuration: Hub.Configuration = .init(),
        _ body: (HubGroup) throws -> T
    ) throws -> T {
        precondition(count >= 1, "HubGroup needs at least one hub, not \(count)")
        if Hub.current != nil {
            throw WeaveError(.nestedRun, "HubGroup.run called on a thread that already runs a hub; spawn a coroutine instead")
        }
        let cores = pinsThreadsToCores ? CoreSet.allowed().cores : []
        var restoreAffinity: CoreSet?
        if let first = cores.first {
            restoreAffinity = CoreSet.current()
            CoreSet.pinCallingThread(to: first)
        }
        defer { restoreAffinity?.applyToCallingThread() }
        var started: HubGroup?
        let result: Result<T, any Error> = Result {
            try Hub.run(configuration: configuration) {
                let group = try HubGroup.start(count: count, cores: cores, configuration: configuration)
                started = group
                defer { group.stopMembers() }
                return try body(group)
            }
        }
        // A member's deadlock cancelled the body: report the deadlock, not the cancellation.
        if let deadlock = started?.control.recordedDeadlock { throw deadlock }
        switch result {
        case .success(let value): return value
        case .failure(var deadlock as DeadlockError):
            deadlock.hub = 0
            throw deadlock
        case .failure(let error): throw error
        }
    }

    /// The cores this process may run on (`sched_getaffinity`), at least 1: the default
    /// number of hubs.
    public static var availableCores: Int { max(1, CoreSet.allowed().cores.count) }

    /// The group whose hub runs on the calling thread, or nil.
    public static var current: HubGroup? { GroupMembership.current?.group }

    /// The index of the hub running on the calling thread within its group, or nil.
    public static var currentHubIndex: Int? { GroupMembership.current?.index }

    /// The handle of hub `index` (`0..<count`).
    public func hub(_ index: Int) -> Member {
        precondition(hubs.indices.contains(index), "HubGroup has no hub \(index) (it has \(count))")
        return hubs[index]
    }

    /// The next hub in round-robin order (shared by every thread that asks).
    public func nextHub() -> Member {
        let ticket = roundRobin.wrappingAdd(1, ordering: .relaxed).oldValue
        return hubs[Int(UInt(bitPattern: ticket) % UInt(count))]
    }

    /// Starts `body` as a coroutine on the next hub in round-robin order; see
    /// ``Member/spawn(name:fileID:line:_:)``.
    public func spawn(
        name: String? = nil, fileID: StaticString = #fileID, line: Int = #line,
        _ body: @escaping @Sendable () throws -> Void
    ) throws(WeaveError) {
        try nextHub().spawn(name: name, fileID: fileID, line: line, body)
    }

    // MARK: - Start and stop (hub 0's main coroutine)

    /// Starts hubs 1..<count, each on a new thread, and returns once all of them run.
    private static func start(count: Int, cores: [Int32], configuration: Hub.Configuration) throws -> HubGroup {
        let hub = Hub.current.unsafelyUnwrapped
        let control = GroupControl(hub0: hub.remote, members: count - 1)
        var starting: [MemberThread] = []
        var threads: [pthread_t] = []
        var failure: (any Error)?
        for index in 1..<max(count, 1) {
            let member = MemberThread(index: index, configuration: configuration, control: control,
                                      core: cores.isEmpty ? nil : cores[index % cores.count])
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setstacksize(&attributes, 8 << 20)
            var thread = pthread_t()
            let box = Unmanaged.passRetained(member)
            let status = pthread_create(&thread, &attributes, { raw in
                Unmanaged<MemberThread>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, box.toOpaque())
            pthread_attr_destroy(&attributes)
            guard status == 0 else {
                box.release()
                failure = WeaveError(.threadStartFailed, "HubGroup: pthread_create failed for hub \(index)", errno: status)
                break
            }
            threads.append(thread)
            starting.append(member)
            if case .failure(let error) = member.awaitStart() {
                failure = error
                break
            }
        }
        if let failure {
            // Release the hubs that did start, with no group: each closes and ends its thread.
            for member in starting { member.release(into: nil) }
            for thread in threads { pthread_join(thread, nil) }
            throw failure
        }
        let remotes = [hub.remote] + starting.map { try! $0.awaitStart().get() }
        let group = HubGroup(hubs: remotes.enumerated().map { Member(index: $0.offset, remote: $0.element) },
                             threads: threads, control: control)
        hub.layerState[ObjectIdentifier(GroupMembership.self)] = GroupMembership(index: 0, group: group)
        for member in starting { member.release(into: group) }
        return group
    }

    /// Stops hubs 1..<count and parks hub 0's main coroutine (uninterruptibly: this runs
    /// while it unwinds too) until every one has closed, then joins their threads. Hub 0
    /// serves its cross-thread queue meanwhile, so replies and cancellations from the
    /// stopping hubs still land.
    private func stopMembers() {
        defer { Hub.current?.layerState[ObjectIdentifier(GroupMembership.self)] = nil }
        guard count > 1 else { return }
        let main = AnyCoroutine.current.unsafelyUnwrapped
        let hub = main.hub
        let stopped = StopWait()
        hub.beginOutsideWork()
        defer { hub.endOutsideWork() }
        let bound = HubBound((main, stopped))
        control.onAllStopped { bound.value.1.done = true; bound.value.0.hub.makeReady(bound.value.0) }
        for member in hubs.dropFirst() {
            member.remote.send { GroupMembership.current?.stopRequested = true }
        }
        while !stopped.done { _ = main.parkUninterruptibly(.other("HubGroup stop")) }
        for thread in threads { pthread_join(thread, nil) }
    }
}

/// Set on hub 0's thread when the last member hub has closed.
private final class StopWait {
    var done = false
}

/// What the hubs of a group share: the first deadlock, and how many member hubs still run.
final class GroupControl: Sendable {
    private struct State {
        var deadlock: DeadlockError?
        var running: Int
        var onAllStopped: (@Sendable () -> Void)?
    }

    private let state: Mutex<State>
    /// Hub 0's queue: where a member's deadlock asks for the body's cancellation.
    private let hub0: RemoteQueue

    init(hub0: RemoteQueue, members: Int) {
        self.hub0 = hub0
        state = Mutex(State(running: members))
    }

    var recordedDeadlock: DeadlockError? { state.withLock { $0.deadlock } }

    /// Keeps the first deadlock and cancels the body on hub 0 (any thread).
    func report(_ deadlock: DeadlockError) {
        let first = state.withLock { state in
            if state.deadlock != nil { return false }
            state.deadlock = deadlock
            return true
        }
        if first { hub0.send { Hub.current?.mainCoroutine?.cancel() } }
    }

    /// Runs `wake` (through hub 0's queue) once no member hub runs; at once if none does.
    func onAllStopped(_ wake: @escaping @Sendable () -> Void) {
        let now = state.withLock { state in
            if state.running == 0 { return true }
            state.onAllStopped = wake
            return false
        }
        if now { hub0.send(wake) }
    }

    /// A member hub has closed (its thread, just before it ends).
    func memberStopped() {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            state.running -= 1
            return state.running == 0 ? state.onAllStopped : nil
        }
        if let wake { hub0.send(wake) }
    }
}

/// A hub's place in its group, kept in the hub's layer state (hub thread only).
final class GroupMembership {
    let index: Int
    let group: HubGroup?
    /// Set by the group's stop job: the member hub then shuts down.
    var stopRequested = false

    init(index: Int, group: HubGroup?) {
        self.index = index
        self.group = group
    }

    static var current: GroupMembership? {
        Hub.current?.layerState[ObjectIdentifier(GroupMembership.self)] as? GroupMembership
    }
}

/// One member hub's thread and its hand-over with the starting thread: the hub publishes
/// its queue, then waits until the group exists (or the start failed).
private final class MemberThread: @unchecked Sendable {
    let index: Int
    let configuration: Hub.Configuration
    let control: GroupControl
    let core: Int32?
    // Allocated: semaphores need stable addresses. Freed in deinit.
    private let published = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let released = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    // Written before a `sem_post`, read after the matching `sem_wait`.
    private var started: Result<RemoteQueue, any Error>?
    private var group: HubGroup?

    init(index: Int, configuration: Hub.Configuration, control: GroupControl, core: Int32?) {
        self.index = index
        self.configuration = configuration
        self.control = control
        self.core = core
        sem_init(published, 0, 0)
        sem_init(released, 0, 0)
    }

    deinit {
        sem_destroy(published)
        sem_destroy(released)
        published.deallocate()
        released.deallocate()
    }

    /// The starting thread: waits for the hub to run (once; later calls return the same).
    func awaitStart() -> Result<RemoteQueue, any Error> {
        if let started { return started }
        while sem_wait(published) != 0 {}
        return started.unsafelyUnwrapped
    }

    /// The starting thread: lets the hub go on, as a member of `group` (nil: close at once).
    func release(into group: HubGroup?) {
        self.group = group
        sem_post(released)
    }

    /// The member thread.
    func run() {
        weave_set_thread_name("hub \(index)")
        if let core { CoreSet.pinCallingThread(to: core) }
        let hub: Hub
        do {
            hub = try Hub(configuration: configuration)
        } catch {
            started = .failure(error)
            sem_post(published)
            return
        }
        started = .success(hub.remote)
        sem_post(published)
        while sem_wait(released) != 0 {}
        if let group {
            hub.serveGroup(GroupMembership(index: index, group: group), control: control)
        }
        group = nil
        hub.close()
        control.memberStopped()
    }
}
