import CLibUV
import CWeaveContext

/// Starts `body` in a new coroutine that nobody joins (Go's `go` statement, gevent's
/// `spawn_raw`, a detached pthread).
///
/// ```swift
/// let done = WaitGroup()
/// for url in urls {
///     try done.add()
///     try spawnDetached { defer { try? done.done() }; try fetch(url) }
/// }
/// try done.wait()
/// ```
///
/// Returns no handle, so it costs no coroutine object: the body is kept at the top of the
/// coroutine's own stack. Otherwise it is a coroutine like any other: it inherits the
/// caller's ``CoroutineLocal`` values, can block, is cancelled when the hub shuts down,
/// and shows in deadlock reports and dumps with its spawn site. Inside it,
/// ``Coroutine/current`` returns its object (made on first use), which can be cancelled
/// or joined like any other. An error the body throws is logged at error level with the
/// coroutine's spawn site (nobody else can see it); `CancellationError` is not.
///
/// Use ``spawn(name:stackSize:fileID:line:_:)`` when the result or the error matters to
/// the caller. ``spawnDetached(name:stackSize:fileID:line:with:_:)`` passes values to the
/// body without a closure context to allocate.
///
/// - Parameters:
///   - name: Shown in deadlock reports, overflow reports and logs.
///   - stackSize: Usable stack bytes; the hub's ``Hub/Configuration/stackSize`` when nil.
///   - fileID: Recorded as the spawn site (leave the default).
///   - line: Recorded as the spawn site (leave the default).
///   - body: The coroutine's code.
/// - Throws: ``WeaveError`` outside a hub, while the hub shuts down, or when no stack can
///   be had (``WeaveError/Code/mappingBudgetExhausted``, ``WeaveError/Code/stackAllocationFailed``).
public func spawnDetached(
    name: String? = nil,
    stackSize: Int? = nil,
    fileID: StaticString = #fileID,
    line: Int = #line,
    _ body: consuming @escaping () throws -> Void
) throws {
    let fiber = try beginDetached(name: name, stackSize: stackSize, file: fileID, line: line,
                                  reserve: DetachedBody.reservedBytes)
    DetachedBody.store(DetachedBody(run: body), runner: .of(DetachedBody.self), below: fiber)
    readyDetached(fiber)
}

/// Starts `body(argument)` in a new coroutine that nobody joins, like Go's `go f(x)`:
/// the argument is copied to the top of the coroutine's stack.
///
/// ```swift
/// for connection in connections {
///     try spawnDetached(with: (connection, stats)) { connection, stats in
///         try serve(connection, stats)
///     }
/// }
/// ```
///
/// A body that captures nothing has no closure context, so such a spawn allocates nothing
/// at all (arguments up to 256 bytes; larger ones are carried by a closure). Everything
/// else is as in ``spawnDetached(name:stackSize:fileID:line:_:)``.
///
/// - Parameters:
///   - argument: The value handed to `body` (a tuple for several).
///   - body: The coroutine's code, called once with `argument`.
/// - Throws: ``WeaveError`` as ``spawnDetached(name:stackSize:fileID:line:_:)`` does.
@inlinable
public func spawnDetached<Argument>(
    name: String? = nil,
    stackSize: Int? = nil,
    fileID: StaticString = #fileID,
    line: Int = #line,
    with argument: consuming Argument,
    _ body: @escaping (Argument) throws -> Void
) throws {
    // Inlinable, so that the payload's type (and the code that runs it) is concrete in the
    // caller: no metadata to look up, no thunk to allocate.
    typealias Payload = DetachedPayload<Argument>
    guard Payload.fitsOnStack else {
        let argument = argument
        return try spawnDetached(name: name, stackSize: stackSize, fileID: fileID, line: line) { try body(argument) }
    }
    let fiber = try beginDetached(name: name, stackSize: stackSize, file: fileID, line: line, reserve: Payload.reservedBytes)
    Payload.store(Payload(body: body, argument: argument), runner: Payload.runner, below: fiber)
    readyDetached(fiber)
}

/// The first half of a detached spawn: a fiber with its identity and spawn site and
/// `reserve` bytes free below it for the body, not yet queued.
@usableFromInline
func beginDetached(
    name: String?, stackSize: Int?, file: StaticString, line: Int, reserve: Int
) throws(WeaveError) -> UnsafeMutablePointer<weave_fiber> {
    // The common spawn, in a few stores: a stack from the hub's cache, nothing to name.
    if name == nil, stackSize == nil, let sched = weave_sched_current(), sched.pointee.fast_spawn != 0,
       let fiber = weave_fiber_create_cached(sched, detachedEntry, nil, reserve) {
        fiber.recordSpawn(file: file, line: line, sched: sched)
        return fiber
    }
    guard let sched = weave_sched_current() else {
        throw WeaveError(.notInCoroutine, "spawnDetached must be called on a thread that runs a hub (inside Hub.run)")
    }
    return try Hub.of(sched).beginDetached(name: name, stackSize: stackSize, file: file, line: line, reserve: reserve)
}

/// The second half: the body is in place; queue the coroutine.
@inlinable
func readyDetached(_ fiber: UnsafeMutablePointer<weave_fiber>) {
    weave_sched_ready(weave_sched_current().unsafelyUnwrapped, fiber)
}

extension Hub {
    /// The hub of a scheduler (unretained: the hub outlives every call made on its thread).
    static func of(_ sched: UnsafeMutablePointer<weave_sched>) -> Hub {
        Unmanaged<Hub>.fromOpaque(sched.pointee.owner).takeUnretainedValue()
    }

    /// `beginDetached` the general way: any stack size, a name, the checks.
    @inline(never)
    func beginDetached(
        name: String?, stackSize: Int?, file: StaticString, line: Int, reserve: Int
    ) throws(WeaveError) -> UnsafeMutablePointer<weave_fiber> {
        try checkSpawn(name: name, stackSize: stackSize)
        let fiber = try makeFiber(stackSize: stackSize, entry: detachedEntry, owner: nil, reserve: reserve)
        // First: an object made from here on takes its spawn site from the fiber.
        fiber.recordSpawn(file: file, line: line, sched: sched)
        if let name {
            // A name lives in the Swift object: make it now.
            AnyCoroutine.of(fiber).name = name
            copyName(name, into: fiber)
        }
        return fiber
    }
}

extension UnsafeMutablePointer where Pointee == weave_fiber {
    /// Records where and when a detached coroutine was spawned (for an object made later)
    /// and passes on the spawner's locals: what every detached spawn does once it has a fiber.
    @inline(__always)
    func recordSpawn(file: StaticString, line: Int, sched: UnsafeMutablePointer<weave_sched>) {
        pointee.spawned_at = sched.pointee.clock.pointee
        weave_fiber_spawn_file(self).storeBytes(of: file, as: StaticString.self)
        pointee.spawn_line = Int32(clamping: line)
        if sched.spawnerHasLocals { AnyCoroutine.of(self).inheritLocals(sched) }
        if sched.pointee.copies_spawn_sites != 0 {
            Hub.of(sched).copySpawnSite(SourceLocation(fileID: file, line: line), into: self)
        }
    }
}
