/// One case of ``Channel/select(_:timeout:default:)``: a receive or a send on some channel,
/// and what to do when it is the one chosen. Cases of different element types mix freely;
/// they agree on the result type.
public struct SelectCase<Result> {
    /// Tries the operation without waiting; nil if it would wait.
    let attempt: () throws -> Result?
    /// Prepares and queues a waiter on the case's channel; returns the cleanup.
    let enqueue: (Waiter) -> Void
    let dequeue: (Waiter) -> Void
    /// Finishes the case once its waiter fired.
    let complete: (Waiter) throws -> Result
    /// Frees the value slot.
    let release: () -> Void

    /// Receives from `channel`; `handler` gets the value, or nil once the channel is closed and drained.
    public static func receive<Element>(
        from channel: Channel<Element>, _ handler: @escaping (Element?) throws -> Result
    ) -> SelectCase {
        // Filled by a sender if this case fires while waiting; moved out by `complete`.
        let slot = UnsafeMutablePointer<Element>.allocate(capacity: 1)
        return SelectCase(
            attempt: {
                guard channel.canReceiveNow else { return nil }
                return try handler(channel.receiveWithoutWaiting(into: slot) ? slot.move() : nil)
            },
            enqueue: { waiter in
                waiter.slot = UnsafeMutableRawPointer(slot)
                channel.receivers.append(waiter)
            },
            dequeue: { channel.receivers.remove($0) },
            complete: { waiter in try handler(waiter.sawClose ? nil : slot.move()) },
            release: { slot.deallocate() })
    }

    /// Sends `value` on `channel`; `handler` runs once it is delivered (or buffered).
    /// Choosing this case on a closed channel throws ``QueueError/Code/closed``.
    public static func send<Element>(
        _ value: Element, to channel: Channel<Element>, _ handler: @escaping () throws -> Result
    ) -> SelectCase {
        // Holds the value while waiting; a receiver copies it out when this case fires.
        let slot = UnsafeMutablePointer<Element>.allocate(capacity: 1)
        var waitingWaiter: Waiter?
        return SelectCase(
            attempt: {
                guard channel.canSendNow else { return nil }
                slot.initialize(to: value)
                defer { slot.deinitialize(count: 1) }
                guard try channel.sendWithoutWaiting(from: slot) else { return nil }
                return try handler()
            },
            enqueue: { waiter in
                slot.initialize(to: value)
                waitingWaiter = waiter
                waiter.slot = UnsafeMutableRawPointer(slot)
                channel.senders.append(waiter)
            },
            dequeue: { channel.senders.remove($0) },
            complete: { waiter in
                if waiter.sawClose { throw channel.closedError() }
                return try handler()
            },
            release: {
                // Receivers copy the value out, so it is still here whenever we queued it.
                if waitingWaiter != nil { slot.deinitialize(count: 1) }
                slot.deallocate()
            })
    }
}

// Constrained like `Task.sleep`, so `Channel.select(...)` needs no element type.
extension Channel where Element == Never {
    /// Waits until one of `cases` can proceed, performs it and returns its handler's result
    /// (Go's `select`).
    ///
    /// Among cases ready at once, one is chosen at random, so no channel starves. With a
    /// `default`, returns its result at once when no case is ready. Throws ``TimeoutError``
    /// after `timeout`, `CancellationError` if cancelled (no case is then performed), and
    /// ``WeaveError`` for an empty select that could only block forever.
    public static func select<Result>(
        _ cases: [SelectCase<Result>],
        timeout: Duration? = nil,
        default defaultCase: (() throws -> Result)? = nil
    ) throws -> Result {
        defer { for selectCase in cases { selectCase.release() } }
        let coroutine = try AnyCoroutine.requireCurrent("Channel.select")
        if coroutine.isCancelled { throw CancellationError() }
        let count = cases.count
        if count > 0 {
            let start = coroutine.hub.random(below: count)
            for offset in 0..<count {
                if let result = try cases[(start + offset) % count].attempt() { return result }
            }
        }
        if let defaultCase { return try defaultCase() }
        if count == 0 && timeout == nil {
            throw WeaveError(.invalidArgument, "Channel.select with no cases, no timeout and no default would block forever")
        }
        let state = SelectState()
        let waiters = (0..<count).map { index in
            let waiter = Waiter(coroutine)
            waiter.group = state
            waiter.caseIndex = index
            return waiter
        }
        for index in 0..<count { cases[index].enqueue(waiters[index]) }
        defer {
            for index in 0..<count where waiters[index].isQueued { cases[index].dequeue(waiters[index]) }
        }
        if count == 0 {
            try AnyCoroutine.sleep(for: timeout.unsafelyUnwrapped)
            throw TimeoutError(operation: "Channel.select", timeout: timeout.unsafelyUnwrapped)
        }
        try coroutine.park(.other("Channel.select over \(count) cases"), timeout: timeout)
        return try cases[state.firedCase].complete(waiters[state.firedCase])
    }
}
