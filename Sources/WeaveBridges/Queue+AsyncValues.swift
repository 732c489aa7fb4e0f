import WeaveCore
extension Queue where Element: Sendable {
    /// The queue's items as an `AsyncSequence` for Swift concurrency
    /// (``HubAsyncSequence``): a task's `for try await` loop gets them in the queue's order
    /// until the queue is shut down and empty.
    ///
    /// Call it on the queue's hub thread; the sequence may go to any task. Each iterator
    /// takes items through one coroutine of its own, only when asked, taking along what the
    /// queue holds (up to ``HubAsyncSequence/batchLimit`` items a hop). Items taken are not
    /// marked with ``taskDone()``. Cancelling the consuming task cancels that coroutine.
    ///
    /// - Throws: ``WeaveError`` with ``WeaveError/Code/notInCoroutine`` off a hub's thread.
    public func asyncValues() throws -> HubAsyncSequence<Element> {
        try HubAsyncSequence(
            receive: { [self] in
                do {
                    return try get()
                } catch let error as QueueError where error.code == .shutDown {
                    return nil
                }
            },
            // A shut-down, empty queue throws here: the blocking receive reports the end.
            receiveNow: { [self] in (try? tryGet()) ?? nil })
    }
}
