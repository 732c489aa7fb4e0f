import WeaveCore
extension Channel where Element: Sendable {
    /// The channel's values as an `AsyncSequence` for Swift concurrency
    /// (``HubAsyncSequence``): a task's `for try await` loop receives them in order until
    /// the channel closes and its buffer is drained.
    ///
    /// Call it on the channel's hub thread; the sequence may go to any task. Each iterator
    /// receives through one coroutine of its own, only when asked, taking along what the
    /// channel can hand over without waiting (up to ``HubAsyncSequence/batchLimit`` values
    /// a hop). Cancelling the consuming task cancels that coroutine.
    ///
    /// - Throws: ``WeaveError`` with ``WeaveError/Code/notInCoroutine`` off a hub's thread.
    public func asyncValues() throws -> HubAsyncSequence<Element> {
        try HubAsyncSequence(
            receive: { [self] in try receive() },
            receiveNow: { [self] in
                withUnsafeTemporaryAllocation(of: Element.self, capacity: 1) { buffer in
                    let slot = buffer.baseAddress.unsafelyUnwrapped
                    return receiveWithoutWaiting(into: slot) ? slot.move() : nil
                }
            })
    }
}
