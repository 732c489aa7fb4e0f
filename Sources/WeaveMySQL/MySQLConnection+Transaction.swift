extension MySQLConnection {
    /// Runs `body` in a transaction: commits if it returns, rolls back if it throws (and
    /// rethrows its error).
    ///
    /// Blocks the calling coroutine for `START TRANSACTION`, `body` and the `COMMIT` or
    /// `ROLLBACK`. When `body` was interrupted (a timeout or a cancellation), the connection
    /// is already discarded and the server rolls back as it drops the session; the error is
    /// rethrown as it is.
    ///
    /// - Throws: `body`'s error; ``MySQLError`` if starting or committing fails (a failed
    ///   commit leaves nothing applied); `TimeoutError` and `CancellationError` as every call does.
    public func transaction<R>(_ body: (MySQLConnection) throws -> R) throws -> R {
        try execute("START TRANSACTION")
        let result: R
        do {
            result = try body(self)
        } catch {
            if isOpen {
                // The body's error is the one worth reporting; a failed rollback leaves the
                // connection discarded or, at worst, the transaction to end with the session.
                do { try execute("ROLLBACK") } catch { if isOpen { discard(because: "ROLLBACK failed") } }
            }
            throw error
        }
        try execute("COMMIT")
        return result
    }
}
