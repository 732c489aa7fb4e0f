import CLibUV
import CWeaveContext

/// Starts `body` in a new coroutine on the current hub (gevent's `spawn`, Go's `go`).
///
/// The coroutine is queued to run once the caller blocks or yields; it inherits the
/// caller's ``CoroutineLocal`` values. Keep the returned handle to ``Coroutine/join(timeout:)``
/// it or ``AnyCoroutine/cancel()`` it; dropping it does not stop the coroutine.
///
/// - Parameters:
///   - name: Shown in deadlock reports, overflow reports and logs.
///   - stackSize: Usable stack bytes; the hub's ``Hub/Configuration/stackSize`` when nil.
///     Stacks of every size are pooled per size.
///   - fileID: Recorded as the spawn site (leave the default).
///   - line: Recorded as the spawn site (leave the default).
///   - body: The coroutine's code; its value or error becomes the coroutine's result.
/// - Throws: ``WeaveError`` outside a hub, while the hub shuts down, or when no stack can
///   be had (``WeaveError/Code/mappingBudgetExhausted``, ``WeaveError/Code/stackAllocationFailed``).
@inlinable
@discardableResult
public func spawn<Value>(
    name: String? = nil,
    stackSize: Int? = nil,
    fileID: StaticString = #fileID,
    line: Int = #line,
    _ body: @escaping () throws -> Value
) throws -> Coroutine<Value> {
    // Inlinable so that `Coroutine<Value>` is made where `Value` is known: its metadata is
    // then a cached constant, not a runtime lookup on every spawn.
    let coroutine = Coroutine(body)
    try coroutine.launch(name: name, stackSize: stackSize, fileID: fileID, line: line)
    return coroutine
}

/// Starts `body` in a new coroutine after `delay` (gevent's `spawn_later`).
///
/// The coroutine exists (and can be joined or cancelled) at once; cancelling it before the
/// delay has passed means the body never runs.
@discardableResult
public func spawn<Value>(
    after delay: Duration,
    name: String? = nil,
    stackSize: Int? = nil,
    fileID: StaticString = #fileID,
    line: Int = #line,
    _ body: @escaping () throws -> Value
) throws -> Coroutine<Value> {
    try spawn(name: name, stackSize: stackSize, fileID: fileID, line: line) { () throws -> Value in
        try AnyCoroutine.sleep(for: delay)
        return try body()
    }
}

extension AnyCoroutine {
    /// Starts this new coroutine on the hub of the calling thread; see ``spawn(name:stackSize:fileID:line:_:)``.
    @usableFromInline
    final func launch(name: String?, stackSize: Int?, fileID: StaticString, line: Int) throws(WeaveError) {
        // The common spawn: a stack from the hub's cache, no name, nothing else to record.
        // (The fiber holds a retain of this object; taken only once a stack is certain.)
        if name == nil, stackSize == nil, let sched = weave_sched_current(), sched.pointee.fast_spawn != 0,
           sched.pointee.stack_cache != nil,
           let fiber = weave_fiber_create_cached(sched, coroutineEntry, Unmanaged.passRetained(self).toOpaque(), 0) {
            start(on: fiber, sched: sched, spawnSite: SourceLocation(fileID: fileID, line: line))
            return
        }
        guard let sched = weave_sched_current() else {
            throw WeaveError(.notInCoroutine, "spawn must be called on a thread that runs a hub (inside Hub.run)")
        }
        // The hub outlives the call: borrow it without a retain.
        let failure = Unmanaged<Hub>.fromOpaque(sched.pointee.owner)._withUnsafeGuaranteedRef { hub -> WeaveError? in
            do throws(WeaveError) {
                try hub.launch(self, name: name, stackSize: stackSize, spawnSite: SourceLocation(fileID: fileID, line: line))
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }
}

extension UnsafeMutablePointer where Pointee == weave_sched {
    /// Whether the coroutine running here (a spawner) has coroutine-locals to pass on; reads
    /// its object without retaining it.
    @inline(__always)
    var spawnerHasLocals: Bool {
        guard let parent = pointee.current.pointee.owner else { return false }
        return Unmanaged<AnyCoroutine>.fromOpaque(parent)._withUnsafeGuaranteedRef { $0.hasLocals }
    }
}

extension AnyCoroutine {
    /// What every spawn does once the coroutine has its fiber: record its identity, pass on
    /// the spawner's locals, and queue it.
    @inline(__always)
    final func start(on fiber: UnsafeMutablePointer<weave_fiber>, sched: UnsafeMutablePointer<weave_sched>, spawnSite: SourceLocation) {
        id = fiber.pointee.id
        self.spawnSite = spawnSite
        // Also in the fiber, for the overflow report (a signal handler reads no Swift object).
        weave_fiber_spawn_file(fiber).storeBytes(of: spawnSite.file, as: StaticString.self)
        fiber.pointee.spawn_line = Int32(truncatingIfNeeded: spawnSite.line)
        spawnedAt = sched.pointee.clock.pointee
        self.fiber = fiber
        if sched.spawnerHasLocals { inheritLocals(sched) }
        if sched.pointee.copies_spawn_sites != 0 { Hub.of(sched).copySpawnSite(spawnSite, into: fiber) }
        weave_sched_ready(sched, fiber)
    }

    /// Takes the locals of the coroutine running on `sched` (the spawner).
    @inline(never)
    final func inheritLocals(_ sched: UnsafeMutablePointer<weave_sched>) {
        locals = AnyCoroutine.of(sched.pointee.current).locals
    }
}

extension Hub {
    /// Spawns `body` from inside the module (pools, groups, the main coroutine).
    package func spawn<Value>(
        name: String?, stackSize: Int?, spawnSite: SourceLocation, _ body: @escaping () throws -> Value
    ) throws(WeaveError) -> Coroutine<Value> {
        let coroutine = Coroutine(body)
        try launch(coroutine, name: name, stackSize: stackSize, spawnSite: spawnSite)
        return coroutine
    }

    /// Gives a new coroutine its identity and a stack, and queues it to run.
    func launch(_ coroutine: AnyCoroutine, name: String?, stackSize: Int?, spawnSite: SourceLocation) throws(WeaveError) {
        try checkSpawn(name: name, stackSize: stackSize)
        let fiber = try makeFiber(stackSize: stackSize, entry: coroutineEntry, owner: Unmanaged.passRetained(coroutine).toOpaque())
        if let name {
            coroutine.name = name
            copyName(name, into: fiber)
        }
        coroutine.start(on: fiber, sched: sched, spawnSite: spawnSite)
    }

    /// What every spawn checks first.
    func checkSpawn(name: String?, stackSize: Int?) throws(WeaveError) {
        if isShuttingDown {
            throw WeaveError(.shuttingDown, "cannot spawn \(name.map { "'\($0)'" } ?? "a coroutine"): the hub is shutting down")
        }
        if let stackSize, stackSize < 16 * 1024 {
            throw WeaveError(.invalidArgument, "stackSize \(stackSize) is below the 16 KiB minimum")
        }
    }

    /// A fiber on a free stack: a default-size one from the C-side cache when there is one
    /// (the common case: no Swift allocator work), else from the allocator.
    /// `owner` (retained) is released if no stack can be had.
    /// `reserve` bytes below the fiber are left free (see `weave_fiber_create`).
    func makeFiber(
        stackSize: Int?, entry: @convention(c) (UnsafeMutableRawPointer?) -> Void, owner: UnsafeMutableRawPointer?,
        reserve: Int = 0
    ) throws(WeaveError) -> UnsafeMutablePointer<weave_fiber> {
        if stackSize == nil || StackAllocator.roundToPages(stackSize.unsafelyUnwrapped) == stacks.stackSize,
           let fiber = weave_fiber_create_cached(sched, entry, owner, reserve) {
            return fiber
        }
        if sched.pointee.zombies != nil { recycleZombies() }
        let stack: StackAllocator.Allocation
        do {
            stack = try allocateStack(size: stackSize)
        } catch {
            if let owner { Unmanaged<AnyCoroutine>.fromOpaque(owner).release() }
            throw error
        }
        let fiber = weave_fiber_create(sched, stack.stackLow, stack.guardLow, stack.top, entry, owner, reserve)!
        fiber.pointee.region = stack.region
        fiber.pointee.slot = stack.slot
        return fiber
    }

    /// A stack from the allocator. Out of mapping budget, this hub may hold free slabs above
    /// its cap (kept while it is busy): they go back first, then one more try.
    private func allocateStack(size: Int?) throws(WeaveError) -> StackAllocator.Allocation {
        do {
            return try stacks.allocate(size: size)
        } catch where error.code == .mappingBudgetExhausted {
            releaseIdleStacks()
            return try stacks.allocate(size: size)
        }
    }

    /// Keeps a C copy of the name for the overflow report (a signal handler cannot read Swift strings).
    func copyName(_ name: String, into fiber: UnsafeMutablePointer<weave_fiber>) {
        withUnsafeMutableBytes(of: &fiber.pointee.name) { buffer in
            var count = 0
            for byte in name.utf8 where count < buffer.count - 1 {
                buffer[count] = byte
                count += 1
            }
            buffer[count] = 0
        }
        fiber.pointee.named = 1
    }
}
