import WeaveCore

extension AMQPConnection {
    /// Parks the calling coroutine until the connection has recovered
    /// (``AMQPConfiguration/automaticRecovery``) more than `count` times in all, that is until
    /// ``recoveryCount`` exceeds `count`, and returns the new count.
    ///
    /// For work that must follow a recovery: publishing again what may have been lost with the
    /// old transport. Read ``recoveryCount`` first, then wait for the recovery after it:
    ///
    /// ```swift
    /// var seen = connection.recoveryCount
    /// while true {
    ///     seen = try connection.waitForRecovery(after: seen)
    ///     try republishUnconfirmedMessages()
    /// }
    /// ```
    ///
    /// It returns once the channels, topology and consumers have been restored.
    ///
    /// - Throws: The connection's failure once it has ended (closed, or lost for good);
    ///   `TimeoutError` when `timeout` passes first; `CancellationError`.
    @discardableResult
    public func waitForRecovery(after count: Int, timeout: Duration? = nil) throws -> Int {
        let coroutine = try AnyCoroutine.requireCurrent("AMQPConnection.waitForRecovery")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        // The recovery waiters are woken when a recovery completes and when the connection
        // ends, which is all this needs to hear about.
        while recoveryCount <= count {
            if let failure { throw failure }
            recoveryWaiters.append(coroutine)
            do {
                try coroutine.park(.primitive(self, "next recovery"), timeout: deadline.map { $0 - .now })
            } catch {
                recoveryWaiters.removeAll { $0 === coroutine }
                throw error
            }
        }
        return recoveryCount
    }
}
