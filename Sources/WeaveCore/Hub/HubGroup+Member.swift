extension HubGroup {
    /// One hub of a ``HubGroup``, reachable from any thread: spawn onto it, or run a closure
    /// there and wait for its result.
    ///
    /// A handle, not the hub: every call reaches the hub through its cross-thread queue
    /// (one `uv_async_t`), and the closures it runs there are `@Sendable`.
    public struct Member: Sendable, CustomStringConvertible {
        /// The hub's index in its group (0 is the thread that called `HubGroup.run`).
        public let index: Int
        let remote: RemoteQueue

        public var description: String { "hub \(index)" }

        /// Whether this is the hub of the calling thread.
        public var isCurrent: Bool { Hub.current?.remote === remote }

        /// Starts `body` as a coroutine on this hub; does not wait for it.
        ///
        /// From this hub's own thread, the coroutine is spawned at once; from anywhere else
        /// the request is queued for the hub's thread. The coroutine's error, if any, is
        /// logged by its hub (as an unjoined coroutine's is); a request that reaches a hub
        /// already shutting down is dropped.
        ///
        /// - Throws: ``WeaveError`` with ``WeaveError/Code/hubClosed`` once the hub has
        ///   stopped (or ``WeaveError/Code/shuttingDown`` from its own thread while it stops).
        public func spawn(
            name: String? = nil, fileID: StaticString = #fileID, line: Int = #line,
            _ body: @escaping @Sendable () throws -> Void
        ) throws(WeaveError) {
            let site = SourceLocation(fileID: fileID, line: line)
            if let hub = Hub.current, hub.remote === remote {
                _ = try hub.spawn(name: name, stackSize: nil, spawnSite: site, body)
                return
            }
            let sent = remote.send {
                // Shutting down: the group is stopping and would cancel it unrun anyway.
                _ = try? Hub.current.unsafelyUnwrapped.spawn(name: name, stackSize: nil, spawnSite: site, body)
            }
            if !sent { throw closedError }
        }

        /// Runs `body` as a new coroutine on this hub and waits for its value, parking the
        /// calling coroutine (not its thread); rethrows `body`'s error.
        ///
        /// The reply comes back through the caller's hub's cross-thread queue, so the caller
        /// resumes on its own hub. While it waits, its hub counts the call as outside work:
        /// a caller parked here is never reported as deadlocked.
        ///
        /// Cancellation crosses hubs: cancelling the caller (or an enclosing `withTimeout`
        /// scope expiring) cancels the coroutine running `body`, and the caller then waits
        /// for it to unwind before throwing `CancellationError` (or the `TimeoutError`),
        /// whatever `body` ended with. So when this returns or throws, `body` has finished.
        /// A caller already cancelled throws at once and sends nothing.
        ///
        /// - Throws: `body`'s error; `CancellationError`; ``WeaveError`` with
        ///   ``WeaveError/Code/notInCoroutine`` outside a coroutine,
        ///   ``WeaveError/Code/hubClosed`` once this hub has stopped, or
        ///   ``WeaveError/Code/shuttingDown`` if it stops before `body` starts.
        public func run<T: Sendable>(
            name: String? = nil, fileID: StaticString = #fileID, line: Int = #line,
            _ body: @escaping @Sendable () throws -> T
        ) throws -> T {
            let caller = try AnyCoroutine.requireCurrent("HubGroup.Member.run")
            try caller.throwInterruption()
            let hub = caller.hub
            let call = RemoteCall<T>(caller: caller)
            let replies = hub.remote
            let site = SourceLocation(fileID: fileID, line: line)
            hub.beginOutsideWork()
            defer { hub.endOutsideWork() }
            let sent = remote.send {
                do {
                    let coroutine = try Hub.current.unsafelyUnwrapped.spawn(name: name, stackSize: nil, spawnSite: site, body)
                    call.target = coroutine
                    coroutine.onFinish { [unowned(unsafe) coroutine] _ in
                        call.reply(coroutine.result.unsafelyUnwrapped, through: replies)
                    }
                } catch {
                    call.reply(.failure(error), through: replies)
                }
            }
            if !sent { throw closedError }
            return try call.wait(cancellingThrough: remote)
        }

        private var closedError: WeaveError {
            WeaveError(.hubClosed, "hub \(index) of the group has stopped")
        }
    }
}

/// One ``HubGroup/Member/run(name:fileID:line:_:)`` in flight. Each field belongs to one
/// thread: `result` and `caller` to the caller's hub (set there by the reply job),
/// `target` to the hub running the body; the queues' mutexes order the hand-overs.
private final class RemoteCall<T: Sendable>: @unchecked Sendable {
    /// Alive until the reply is in: it waits for it, cancelled or not.
    unowned(unsafe) let caller: AnyCoroutine
    var result: Result<T, any Error>?
    /// The coroutine running the body, for cancellation; weak, so the call never keeps it.
    weak var target: AnyCoroutine?

    init(caller: AnyCoroutine) {
        self.caller = caller
    }

    /// The body's hub: sends the outcome back to the caller's hub.
    func reply(_ outcome: Result<T, any Error>, through replies: RemoteQueue) {
        // False only once the caller's hub has closed, which it cannot while the caller waits.
        replies.send { [self] in
            result = outcome
            caller.hub.makeReady(caller)
        }
    }

    /// The caller: parks until the reply; an interruption cancels the body's coroutine
    /// and the wait goes on, uninterruptibly, until it has unwound.
    func wait(cancellingThrough target: RemoteQueue) throws -> T {
        var interruption: (any Error)?
        while result == nil {
            if interruption != nil {
                _ = caller.parkUninterruptibly(.other("HubGroup.Member.run reply"))
                continue
            }
            do {
                try caller.park(.other("HubGroup.Member.run reply"))
            } catch {
                interruption = error
                target.send { [self] in self.target?.cancel() }
            }
        }
        if let interruption { throw interruption }
        return try result.unsafelyUnwrapped.get()
    }
}
