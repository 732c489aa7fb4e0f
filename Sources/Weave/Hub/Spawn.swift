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
@discardableResult
public func spawn<Value>(
    name: String? = nil,
    stackSize: Int? = nil,
    fileID: String = #fileID,
    line: Int = #line,
    _ body: @escaping () throws -> Value
) throws -> Coroutine<Value> {
    guard let hub = Hub.current else {
        throw WeaveError(.notInCoroutine, "spawn must be called on a thread that runs a hub (inside Weave.run)")
    }
    return try hub.spawn(name: name, stackSize: stackSize, spawnSite: SourceLocation(fileID: fileID, line: line), body)
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
    fileID: String = #fileID,
    line: Int = #line,
    _ body: @escaping () throws -> Value
) throws -> Coroutine<Value> {
    try spawn(name: name, stackSize: stackSize, fileID: fileID, line: line) { () throws -> Value in
        try AnyCoroutine.sleep(for: delay)
        return try body()
    }
}

extension Hub {
    func spawn<Value>(
        name: String?, stackSize: Int?, spawnSite: SourceLocation, _ body: @escaping () throws -> Value
    ) throws(WeaveError) -> Coroutine<Value> {
        if isShuttingDown {
            throw WeaveError(.shuttingDown, "cannot spawn \(name.map { "'\($0)'" } ?? "a coroutine"): the hub is shutting down")
        }
        if let stackSize, stackSize < 16 * 1024 {
            throw WeaveError(.invalidArgument, "stackSize \(stackSize) is below the 16 KiB minimum")
        }
        if sched.pointee.zombies != nil { recycleZombies() }
        let stack = try stacks.allocate(size: stackSize)
        nextCoroutineID += 1
        let coroutine = Coroutine(hub: self, id: nextCoroutineID, name: name, spawnSite: spawnSite, body: body)
        if let parent = AnyCoroutine.current, !parent.locals.isEmpty { coroutine.locals = parent.locals }
        let fiber = weave_fiber_create(sched, stack.stackLow, stack.guardLow, stack.top, coroutineEntry,
                                       Unmanaged.passRetained(coroutine).toOpaque())!
        fiber.pointee.id = coroutine.id
        fiber.pointee.region = stack.region
        fiber.pointee.slot = stack.slot
        if let name { copyName(name, into: fiber) }
        if configuration.monitorsBlockedLoop { copySpawnSite(spawnSite, into: fiber) }
        coroutine.fiber = fiber
        weave_sched_ready(sched, fiber)
        return coroutine
    }

    /// Keeps a C copy of the name for the overflow report (a signal handler cannot read Swift strings).
    private func copyName(_ name: String, into fiber: UnsafeMutablePointer<weave_fiber>) {
        withUnsafeMutableBytes(of: &fiber.pointee.name) { buffer in
            var count = 0
            for byte in name.utf8 where count < buffer.count - 1 {
                buffer[count] = byte
                count += 1
            }
            buffer[count] = 0
        }
    }
}
