import WeaveCore
import Synchronization

extension AsyncSequence where Self: Sendable, Element: Sendable {
    /// An iterator a coroutine pulls this sequence's elements from, parking (blocking only
    /// itself) while each is awaited on Swift's cooperative pool.
    ///
    /// ```swift
    /// let lines = try awaitAsync { try await fetchLines(url) }      // any Sendable AsyncSequence
    /// let iterator = lines.makeBlockingIterator()
    /// while let line = try iterator.next() { try connection.write(line) }
    /// ```
    ///
    /// Hub thread only; see ``BlockingAsyncIterator``.
    public func makeBlockingIterator() -> BlockingAsyncIterator<Self> {
        BlockingAsyncIterator(self)
    }
}

/// Reads an `AsyncSequence` from a coroutine: one Swift `Task` iterates the sequence and
/// hands each element over through the hub's cross-thread queue; the coroutine parks in
/// ``next()`` meanwhile and the hub runs its other coroutines.
///
/// The task starts with the first ``next()`` and asks the sequence for one element per
/// ``next()`` call, never ahead, so a producer feels the coroutine's pace. It runs with the
/// coroutine's ``Coroutine/serviceContext`` as `ServiceContext.current`.
///
/// Cancellation crosses both ways. Cancelling the coroutine while it waits in ``next()``
/// (or a ``withTimeout(_:operation:fileID:line:_:)`` scope expiring) throws there at once
/// and cancels the task, which cancels the sequence's iteration (an `AsyncStream`'s
/// `onTermination` sees `.cancelled`); the iteration is over then, and later calls return
/// nil. An error the sequence throws, `CancellationError` included, is thrown by ``next()``.
/// Dropping the iterator, or ``cancel()``, cancels the task too.
///
/// Belongs to the hub's thread, like the coroutine that reads it (not `Sendable`).
public final class BlockingAsyncIterator<Base: AsyncSequence & Sendable> where Base.Element: Sendable {
    public typealias Element = Base.Element

    private var base: Base?
    private var pump: Pump?
    private var task: Task<Void, Never>?
    private var isFinished = false

    init(_ base: Base) {
        self.base = base
    }

    deinit {
        task?.cancel()
    }

    /// The next element, or nil once the sequence has ended.
    ///
    /// Parks the calling coroutine until the task has the element.
    ///
    /// - Throws: the sequence's error (once; nil follows), `CancellationError` if the
    ///   coroutine is cancelled, the ``TimeoutError`` of an expiring `withTimeout` scope, or
    ///   ``WeaveError`` outside a coroutine.
    public func next() throws -> Element? {
        guard !isFinished else { return nil }
        let coroutine = try AnyCoroutine.requireCurrent("BlockingAsyncIterator.next")
        let pump = self.pump ?? start()
        let outcome = RemoteOutcome<Element?>(waiter: coroutine)
        pump.ask(outcome.deliver)
        do {
            let element = try outcome.wait(.other("AsyncSequence element (BlockingAsyncIterator)"), timeout: nil)
            if element == nil { finish() }
            return element
        } catch {
            // A failed sequence or an interrupted wait ends the iteration; the task stops.
            finish()
            throw error
        }
    }

    /// Stops the iteration: cancels the task iterating the sequence; ``next()`` returns nil
    /// from now on.
    public func cancel() {
        finish()
    }

    private func finish() {
        isFinished = true
        task?.cancel()
        task = nil
        base = nil
    }

    private func start() -> Pump {
        let pump = Pump()
        let base = self.base.unsafelyUnwrapped
        self.pump = pump
        let body = bindingCoroutineServiceContext {
            var iterator = base.makeAsyncIterator()
            while let deliver = await pump.nextRequest() {
                do {
                    let element = try await iterator.next()
                    deliver(.success(element))
                    if element == nil { return }
                } catch {
                    deliver(.failure(error))
                    return
                }
            }
        }
        task = Task.detached { try? await body() }
        return pump
    }

    /// The coroutine's requests, waiting for the task (any thread).
    final class Pump: Sendable {
        typealias Deliver = @Sendable (Result<Element?, any Error>) -> Void

        private struct State {
            var request: Deliver?
            var waiting: CheckedContinuation<Deliver?, Never>?
            var isStopped = false
        }

        private let state = Mutex(State())

        /// Hands a request to the task (hub thread). Every request is answered: the answer
        /// ends the outside work its waiter counts on the hub.
        func ask(_ deliver: @escaping Deliver) {
            // (nil, false): stored for the task; (waiting, _): handed to it; (nil, true): refused.
            let (waiting, refused) = state.withLock { state -> (CheckedContinuation<Deliver?, Never>?, Bool) in
                if let waiting = state.waiting {
                    state.waiting = nil
                    return (waiting, false)
                }
                if state.isStopped { return (nil, true) }
                state.request = deliver
                return (nil, false)
            }
            if let waiting {
                waiting.resume(returning: deliver)
            } else if refused {
                deliver(.failure(CancellationError()))
            }
        }

        /// The next request; nil once the task is cancelled and no request is left. A request
        /// made before the cancellation is still served, in the cancelled task, so that the
        /// sequence sees the cancellation (an `AsyncStream` ends and runs `onTermination`).
        func nextRequest() async -> Deliver? {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Deliver?? in
                        if let request = state.request {
                            state.request = nil
                            return .some(request)
                        }
                        if state.isStopped { return .some(nil) }
                        state.waiting = continuation
                        return .none
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            } onCancel: {
                let waiting = state.withLock { state in
                    state.isStopped = true
                    defer { state.waiting = nil }
                    return state.waiting
                }
                waiting?.resume(returning: nil)
            }
        }
    }
}
