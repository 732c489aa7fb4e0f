/// An error raised by the Weave runtime itself: misuse of the API, or a resource the
/// runtime could not obtain.
///
/// Match on ``code`` to handle a case; the ``description`` says what failed and why.
public struct WeaveError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, for matching.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case nestedRun
            case notInCoroutine
            case shuttingDown
            case joinSelf
            case stackAllocationFailed
            case mappingBudgetExhausted
            case invalidArgument
            case hubClosed
            case threadPoolShutDown
            case threadStartFailed
        }

        let storage: Storage

        /// `Hub.run` was called on a thread that already runs a hub.
        public static let nestedRun = Code(storage: .nestedRun)
        /// A blocking call was made outside a coroutine (no hub runs on this thread).
        public static let notInCoroutine = Code(storage: .notInCoroutine)
        /// The hub is shutting down and accepts no new coroutines.
        public static let shuttingDown = Code(storage: .shuttingDown)
        /// A coroutine tried to join itself (or a pool or group it belongs to), which would never return.
        public static let joinSelf = Code(storage: .joinSelf)
        /// The operating system refused memory for a coroutine stack.
        public static let stackAllocationFailed = Code(storage: .stackAllocationFailed)
        /// Guarded stacks would exceed the process's share of `vm.max_map_count`.
        public static let mappingBudgetExhausted = Code(storage: .mappingBudgetExhausted)
        /// An argument was out of range.
        public static let invalidArgument = Code(storage: .invalidArgument)
        /// Work was sent to a hub that has already stopped.
        public static let hubClosed = Code(storage: .hubClosed)
        /// Work was submitted to a ``ThreadPool`` that has been shut down.
        public static let threadPoolShutDown = Code(storage: .threadPoolShutDown)
        /// The operating system refused to start a thread (`pthread_create` failed).
        public static let threadStartFailed = Code(storage: .threadStartFailed)

        public var description: String { "\(storage)" }
    }

    /// What went wrong.
    public let code: Code
    /// A sentence saying what failed, on what.
    public let message: String
    /// The system error behind this one, if any (an `errno` value).
    public let errno: Int32?

    package init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String {
        if let errno { return "\(message) (errno \(errno))" }
        return message
    }
}
