import WeaveCore
import ServiceContextModule

/// An `AsyncSequence` of values received on a hub, for Swift concurrency: a task consumes
/// with `for try await` what coroutines produce.
///
/// ```swift
/// let values = try await hubThread.run {
///     let channel = Channel<Int>(capacity: 16)
///     try spawn { for i in 0..<100 { try channel.send(i) }; channel.close() }
///     return try channel.asyncValues()      // made on the hub, consumed anywhere
/// }
/// for try await value in values { print(value) }
/// ```
///
/// Make one on the hub's thread (``Channel/asyncValues()``, ``Queue/asyncValues()``, or
/// ``init(receive:)`` around any blocking receive); the sequence itself is `Sendable` and
/// may go to any task. Each iterator gets one coroutine on the hub (started by its first
/// `next()`) that runs the receive only when the iterator asks for a value, so nothing is
/// taken from the source ahead of demand beyond one batch: what the source can hand over
/// without waiting, up to ``batchLimit`` values, travels in one hop.
///
/// `next()` suspends the task (blocking no thread) while the coroutine waits for a value. It
/// returns nil once the source ends (the channel closes, the queue shuts down) and throws
/// the receive's error, after which it returns nil. Cancelling the task cancels the
/// receiving coroutine and makes `next()` throw `CancellationError`; dropping the iterator
/// (a `break` out of the loop) cancels the coroutine too. Values already received into a
/// batch and not yet returned are dropped then. Once the hub has stopped, `next()` throws
/// ``WeaveError`` with ``WeaveError/Code/hubClosed``.
///
/// From its making until the sequence and its iterators are all gone, the hub counts it as
/// outside work: a hub whose coroutines wait on the consuming task (a `send` waiting for the
/// task to ask) waits for it instead of reporting a ``DeadlockError``. The receiving
/// coroutine runs with the consuming task's `ServiceContext`.
public struct HubAsyncSequence<Element: Sendable>: AsyncSequence, Sendable {
    public typealias Failure = any Error

    /// The most values one hop to the consuming task carries.
    public static var batchLimit: Int { 64 }

    private let lease: Lease

    /// The hub-side ends of the sequence: used on the hub's thread only.
    final class Source {
        /// Waits for the next value; nil at the end.
        let receive: () throws -> Element?
        /// The next value if there is one without waiting; nil otherwise.
        let receiveNow: (() -> Element?)?

        init(receive: @escaping () throws -> Element?, receiveNow: (() -> Element?)?) {
            self.receive = receive
            self.receiveNow = receiveNow
        }
    }

    /// A sequence of the values `receive` returns, until it returns nil or throws.
    ///
    /// Call it on the hub's thread; `receive` runs there, in a coroutine, and may block.
    ///
    /// - Throws: ``WeaveError`` with ``WeaveError/Code/notInCoroutine`` off a hub's thread.
    public init(receive: @escaping () throws -> Element?) throws {
        try self.init(receive: receive, receiveNow: nil)
    }

    init(receive: @escaping () throws -> Element?, receiveNow: (() -> Element?)?) throws {
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "HubAsyncSequence must be made on a hub's thread (inside Hub.run)")
        }
        lease = Lease(hub, Source(receive: receive, receiveNow: receiveNow))
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(feed: Feed(lease: lease))
    }

    /// Receives values for one iteration; see ``HubAsyncSequence``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        private let feed: Feed
        private var batch: [Element] = []
        private var index = 0
        private var isFinished = false

        init(feed: Feed) { self.feed = feed }

        /// The next value, nil at the end; see ``HubAsyncSequence``.
        public mutating func next() async throws -> Element? {
            if index < batch.count {
                defer { index += 1 }
                return batch[index]
            }
            guard !isFinished else { return nil }
            batch.removeAll(keepingCapacity: true)
            index = 0
            do {
                batch = try await feed.request()
            } catch {
                isFinished = true
                throw error
            }
            guard !batch.isEmpty else {
                isFinished = true
                return nil
            }
            index = 1
            return batch[0]
        }
    }

    /// The consuming side's link to its receiving coroutine. Its deinit (the iterator is
    /// gone) stops the coroutine.
    final class Feed: Sendable {
        private let remote: RemoteQueue
        private let core: HubBound<Receiver>
        /// Keeps the hub counting the consumer as outside work while the iterator lives.
        private let lease: Lease

        init(lease: Lease) {
            self.remote = lease.remote
            self.lease = lease
            // Made here (from references only) but touched only on the hub's thread, by jobs sent to it.
            self.core = HubBound(Receiver(source: lease.source.uncheckedValue, context: ServiceContext.current),
                                 sameHubAs: lease.source)
        }

        deinit {
            let core = self.core
            remote.send { core.value.cancel() }
        }

        /// The next batch of values, empty at the end.
        func request() async throws -> [Element] {
            let core = self.core
            return try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { continuation in
                    let sent = remote.send { core.value.demand(continuation) }
                    if !sent { continuation.resume(throwing: WeaveError(.hubClosed, "HubAsyncSequence: its hub has stopped")) }
                }
            } onCancel: {
                remote.send { core.value.cancel() }
            }
        }
    }

    /// The hub side of one iteration: the receiving coroutine and the request it serves.
    /// Hub thread only.
    final class Receiver {
        private let source: Source
        private let context: ServiceContext?
        /// The task's request waiting for values; resumed exactly once, by whoever takes it.
        private var pending: UnsafeContinuation<[Element], any Error>?
        private var coroutine: AnyCoroutine?
        private var awaitsDemand = false
        private var isCancelled = false
        private var isDone = false

        init(source: Source, context: ServiceContext?) {
            self.source = source
            self.context = context
        }

        func demand(_ continuation: UnsafeContinuation<[Element], any Error>) {
            if isCancelled { return continuation.resume(throwing: CancellationError()) }
            if isDone { return continuation.resume(returning: []) }
            pending = continuation
            if let coroutine {
                if awaitsDemand { coroutine.hub.makeReady(coroutine) }
                return
            }
            let hub = Hub.current.unsafelyUnwrapped
            do {
                coroutine = try hub.spawn(name: "HubAsyncSequence", stackSize: nil,
                                          spawnSite: SourceLocation(fileID: #fileID, line: #line)) { [self] in
                    if let context {
                        try Coroutine.withServiceContext(context) { try feed() }
                    } else {
                        try feed()
                    }
                }
            } catch {
                pending = nil
                continuation.resume(throwing: error)
            }
        }

        func cancel() {
            isCancelled = true
            coroutine?.cancel()
            // A running coroutine is kept by its fiber; dropping it here means this object,
            // which may be freed off the hub's thread, never frees a coroutine there.
            coroutine = nil
            // The coroutine may never run its body (cancelled before it started): answer here.
            if let pending {
                self.pending = nil
                pending.resume(throwing: CancellationError())
            }
        }

        /// The receiving coroutine's body: serves each request with one batch.
        private func feed() throws {
            let me = coroutine.unsafelyUnwrapped
            defer { coroutine = nil }
            do {
                while true {
                    while pending == nil {
                        awaitsDemand = true
                        defer { awaitsDemand = false }
                        try me.park(.other("HubAsyncSequence: waiting for the consuming task to ask"))
                    }
                    guard let first = try source.receive() else {
                        isDone = true
                        answer(.success([]))
                        return
                    }
                    var batch = [first]
                    if let receiveNow = source.receiveNow {
                        while batch.count < HubAsyncSequence.batchLimit, let more = receiveNow() { batch.append(more) }
                    }
                    answer(.success(batch))
                }
            } catch {
                isDone = true
                answer(.failure(error))
            }
        }

        private func answer(_ result: Result<[Element], any Error>) {
            // Nil when the request was cancelled: the values go nowhere.
            guard let pending else { return }
            self.pending = nil
            pending.resume(with: result)
        }
    }

    /// Counts the sequence as outside work on its hub from its making until the last copy
    /// and iterator let go (any thread), and owns the hub-side source, so that what the
    /// source holds (a channel, a connection) is freed on the hub's thread.
    final class Lease: Sendable {
        let remote: RemoteQueue
        let source: HubBound<Source>

        init(_ hub: Hub, _ source: Source) {
            remote = hub.remote
            self.source = HubBound(source)
            hub.beginOutsideWork()
        }

        deinit {
            // One extra reference, given up by the job on the hub: the receivers that also
            // hold the source are gone or on the hub by then, so the last release is there.
            let retained = Unmanaged.passRetained(source.uncheckedValue).toOpaque()
            let address = UInt(bitPattern: retained)
            let sent = remote.send {
                Unmanaged<Source>.fromOpaque(UnsafeRawPointer(bitPattern: address).unsafelyUnwrapped).release()
                Hub.current.unsafelyUnwrapped.endOutsideWork()
            }
            // The hub has closed: nothing is counted any more, and nothing runs there.
            if !sent { Unmanaged<Source>.fromOpaque(retained).release() }
        }
    }
}
