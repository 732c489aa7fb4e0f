import WeaveCore

/// A published message waiting for the broker's confirm.
struct PendingConfirm {
    /// Owned by a publish that waits for this confirm; nil for one that does not (or gave up).
    var slot: UnsafeMutablePointer<ConfirmOutcome?>?
    var waiter: AnyCoroutine?
}

enum ConfirmOutcome {
    case acknowledged
    case nacked
    case returned(AMQPError)
    case failed(AMQPError)
}

extension AMQPChannel {
    /// Puts the channel in confirm mode (`confirm.select`): from now on the broker confirms
    /// every message published on it, and ``publish(_:exchange:routingKey:properties:mandatory:waitForConfirm:timeout:)-([UInt8],_,_,_,_,_,_)``
    /// waits for that confirm. Calling it again does nothing.
    ///
    /// Blocks the calling coroutine until the broker agrees.
    ///
    /// - Throws: ``AMQPError`` when the channel or connection has ended; `TimeoutError`,
    ///   `CancellationError` (which close the channel).
    public func confirmSelect(timeout: Duration? = nil) throws {
        guard !isConfirmMode else { return }
        _ = try call(.confirmSelect, timeout: timeout, "confirm.select") { $0.writeBits(false) }
        isConfirmMode = true
    }

    /// Publishes a message to `exchange` (the default exchange `""` routes by queue name)
    /// with `routingKey`.
    ///
    /// Blocks the calling coroutine while the broker blocks the connection
    /// (`connection.blocked`) or the connection's output is above its high-water mark; then,
    /// in confirm mode and with `waitForConfirm`, until the broker confirms the message.
    /// Without confirm mode it returns once the frames are queued for the writer: a message
    /// the connection loses on the way is lost silently (use confirms when that matters).
    ///
    /// - Parameters:
    ///   - body: The message's bytes.
    ///   - mandatory: Have the broker return the message when no queue takes it; in confirm
    ///     mode the publish then throws ``AMQPError/Code/returned``.
    ///   - waitForConfirm: In confirm mode, whether to wait for this message's confirm; when
    ///     false, ``waitForConfirms(timeout:)`` waits for every outstanding one.
    ///   - timeout: The longest to wait in all (flow control and confirm); nil waits for ever.
    /// - Returns: The message's sequence number in confirm mode (1 for the first), else 0.
    /// - Throws: ``AMQPError`` with ``AMQPError/Code/nacked`` when the broker refuses the
    ///   message, ``AMQPError/Code/returned`` for an unroutable mandatory message, the
    ///   channel's or connection's failure (with automatic recovery, the error that lost the
    ///   connection while the message waited for its confirm: it is not republished);
    ///   `TimeoutError`, `CancellationError` (while waiting for flow control: nothing was
    ///   sent; while waiting for the confirm: the message may still be confirmed later and
    ///   counts for ``waitForConfirms(timeout:)``).
    @discardableResult
    public func publish(
        _ body: [UInt8], exchange: String = "", routingKey: String, properties: AMQPMessageProperties = AMQPMessageProperties(),
        mandatory: Bool = false, waitForConfirm: Bool = true, timeout: Duration? = nil
    ) throws -> UInt64 {
        try body.withUnsafeBytes {
            try publish(bytes: $0, exchange: exchange, routingKey: routingKey, properties: properties,
                        mandatory: mandatory, waitForConfirm: waitForConfirm, timeout: timeout)
        }
    }

    /// Publishes the UTF-8 bytes of `body`; see ``publish(_:exchange:routingKey:properties:mandatory:waitForConfirm:timeout:)-([UInt8],_,_,_,_,_,_)``.
    @discardableResult
    public func publish(
        _ body: String, exchange: String = "", routingKey: String, properties: AMQPMessageProperties = AMQPMessageProperties(),
        mandatory: Bool = false, waitForConfirm: Bool = true, timeout: Duration? = nil
    ) throws -> UInt64 {
        var body = body
        return try body.withUTF8 {
            try publish(bytes: UnsafeRawBufferPointer($0), exchange: exchange, routingKey: routingKey, properties: properties,
                        mandatory: mandatory, waitForConfirm: waitForConfirm, timeout: timeout)
        }
    }

    /// Publishes `bytes` (copied before it returns or blocks); see
    /// ``publish(_:exchange:routingKey:properties:mandatory:waitForConfirm:timeout:)-([UInt8],_,_,_,_,_,_)``.
    @discardableResult
    public func publish(
        bytes: UnsafeRawBufferPointer, exchange: String = "", routingKey: String,
        properties: AMQPMessageProperties = AMQPMessageProperties(), mandatory: Bool = false,
        waitForConfirm: Bool = true, timeout: Duration? = nil
    ) throws -> UInt64 {
        if let failure { throw failure }
        let coroutine = try AnyCoroutine.requireCurrent("AMQPChannel.publish")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        // Blocked, backed up, or reconnecting (frames queued now would reach the new
        // connection before its channels are open again).
        if connection.blockedReason != nil || connection.output.buffer.count > connection.outputHighWater || connection.outage != nil {
            try connection.waitForFlow(coroutine: coroutine, deadline: deadline)
            if let failure { throw failure }
        }
        connection.output.method(channel: id, .basicPublish) {
            $0.writeShort(0)
            $0.writeShortString(exchange)
            $0.writeShortString(routingKey)
            $0.writeBits(mandatory, false)
        }
        connection.output.content(channel: id, classID: 60, body: bytes, properties: properties,
                                  maxBodyFrame: connection.frameMax - AMQPFrameType.overhead)
        connection.wakeWriter()
        guard isConfirmMode else { return 0 }
        let sequence = nextPublishSequenceNumber
        nextPublishSequenceNumber += 1
        guard waitForConfirm else {
            unconfirmed[sequence] = PendingConfirm(slot: nil, waiter: nil)
            return sequence
        }
        var outcome: ConfirmOutcome?
        try withUnsafeMutablePointer(to: &outcome) { slot in
            unconfirmed[sequence] = PendingConfirm(slot: slot, waiter: coroutine)
            while slot.pointee == nil {
                do {
                    try coroutine.park(.primitive(self, "publish confirm"), timeout: deadline.map { $0 - .now })
                } catch {
                    // Still counted as outstanding, but nobody's slot any more.
                    if slot.pointee == nil { unconfirmed[sequence] = PendingConfirm(slot: nil, waiter: nil) }
                    throw error
                }
            }
        }
        switch outcome.unsafelyUnwrapped {
        case .acknowledged: return sequence
        case .nacked: throw AMQPError(.nacked, "the broker nacked message \(sequence) published to '\(exchange)' with key '\(routingKey)' on \(self)")
        case .returned(let error): throw error
        case .failed(let error): throw error
        }
    }

    /// Waits until the broker has confirmed every message published so far in confirm mode.
    ///
    /// Blocks the calling coroutine until nothing is outstanding (at most `timeout`).
    ///
    /// - Throws: ``AMQPError`` with ``AMQPError/Code/nacked`` if the broker nacked any message
    ///   (or ``AMQPError/Code/returned`` if it returned any) since the last call, the
    ///   channel's failure; `TimeoutError`, `CancellationError`.
    public func waitForConfirms(timeout: Duration? = nil) throws {
        precondition(isConfirmMode, "waitForConfirms needs confirmSelect() first")
        let coroutine = try AnyCoroutine.requireCurrent("AMQPChannel.waitForConfirms")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while !unconfirmed.isEmpty && failure == nil {
            drainWaiters.append(coroutine)
            do {
                try coroutine.park(.primitive(self, "waitForConfirms"), timeout: deadline.map { $0 - .now })
            } catch {
                drainWaiters.removeAll { $0 === coroutine }
                throw error
            }
        }
        if let failure { throw failure }
        let nacks = nacksSinceWait, returns = returnsSinceWait, lost = lostConfirms
        nacksSinceWait = 0
        returnsSinceWait = 0
        lostConfirms = 0
        if lost > 0 {
            throw AMQPError(.connectionLost, "\(lost) message(s) on \(self) were unconfirmed when the connection was lost: publish them again")
        }
        if nacks > 0 { throw AMQPError(.nacked, "the broker nacked \(nacks) message(s) on \(self)") }
        if returns > 0 { throw AMQPError(.returned, "the broker returned \(returns) unroutable mandatory message(s) on \(self)") }
    }

    func wakeDrainWaiters() {
        let waiters = drainWaiters
        drainWaiters = []
        for waiter in waiters { hub.makeReady(waiter) }
    }

    /// Settles confirms up to `tag` (`multiple`) or `tag` alone.
    func confirm(_ tag: UInt64, multiple: Bool, nack: Bool) {
        if multiple {
            var sequence = lowestUnconfirmed
            while sequence <= tag {
                if let entry = unconfirmed.removeValue(forKey: sequence) { settle(entry, sequence: sequence, nack: nack) }
                sequence += 1
            }
            lowestUnconfirmed = max(lowestUnconfirmed, tag + 1)
        } else if let entry = unconfirmed.removeValue(forKey: tag) {
            settle(entry, sequence: tag, nack: nack)
            while lowestUnconfirmed < nextPublishSequenceNumber && unconfirmed[lowestUnconfirmed] == nil { lowestUnconfirmed += 1 }
        }
        if unconfirmed.isEmpty { wakeDrainWaiters() }
    }

    private func settle(_ entry: PendingConfirm, sequence: UInt64, nack: Bool) {
        let outcome: ConfirmOutcome
        if nack {
            nacksSinceWait += 1
            outcome = .nacked
        } else if let returned = pendingReturn {
            // The broker sends a mandatory message's return just before its ack.
            pendingReturn = nil
            returnsSinceWait += 1
            outcome = .returned(returned)
        } else {
            outcome = .acknowledged
        }
        guard let slot = entry.slot else { return }
        slot.pointee = outcome
        if let waiter = entry.waiter { hub.makeReady(waiter) }
    }
}
