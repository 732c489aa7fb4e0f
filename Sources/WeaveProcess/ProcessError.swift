import WeaveCore

/// A failure in the process layer: a worker or child that died, a task that threw in
/// another process, a frame that could not be trusted, a program that could not start.
///
/// Match on ``code``; ``description`` says what failed, in which process and why, for example
/// `worker 4121 died from signal SIGKILL while running task 17 (PrimeCount)`.
public struct ProcessError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case workerDied, remoteError, unregisteredTask, frameTooLarge, malformedFrame
            case spawnFailed, closed, endOfStream
            case invalidArgument, outputTooLarge
        }
        let storage: Storage

        /// A worker or child process exited or was killed while it held the task.
        public static let workerDied = Code(storage: .workerDied)
        /// The task threw in the other process; ``ProcessError/remote`` holds what it threw.
        public static let remoteError = Code(storage: .remoteError)
        /// The worker has no task type registered under the name (see `ProcessWorker.main(tasks:)`).
        public static let unregisteredTask = Code(storage: .unregisteredTask)
        /// A frame announced more bytes than the configured maximum.
        public static let frameTooLarge = Code(storage: .frameTooLarge)
        /// A frame could not be parsed or decoded.
        public static let malformedFrame = Code(storage: .malformedFrame)
        /// The program could not be started (missing executable, permissions, limits).
        public static let spawnFailed = Code(storage: .spawnFailed)
        /// The pool, pipe or queue was closed (or terminated) before or during the call.
        public static let closed = Code(storage: .closed)
        /// The other side closed its end: no more values will come.
        public static let endOfStream = Code(storage: .endOfStream)
        /// An argument cannot be passed to a child process (a NUL byte, an `=` in an
        /// environment name, a negative size) or a working directory does not exist.
        public static let invalidArgument = Code(storage: .invalidArgument)
        /// A child wrote more than the caller's `maxOutputSize` to a captured stream.
        public static let outputTooLarge = Code(storage: .outputTooLarge)

        public var description: String { "\(storage)" }
    }

    /// What went wrong.
    public let code: Code
    /// The whole story, for logs.
    public let message: String
    /// For ``Code/remoteError``: what the task threw in the other process (its type name,
    /// its description, and the error itself when its type is `Codable`).
    public let remote: RemoteError?
    /// For ``Code/workerDied``: the exit status, when the process exited.
    public let exitStatus: Int32?
    /// For ``Code/workerDied``: the signal that killed the process, when one did.
    public let signal: Int32?

    init(_ code: Code, _ message: String, remote: RemoteError? = nil, exitStatus: Int32? = nil, signal: Int32? = nil) {
        self.code = code
        self.message = message
        self.remote = remote
        self.exitStatus = exitStatus
        self.signal = signal
    }

    public var description: String { message }

    /// Whether this is a ``Code/remoteError`` whose task threw an `E`; for a `catch` clause:
    /// `catch let error as ProcessError where error.isRemote(QuotaExceeded.self)`.
    public func isRemote<E: Error>(_ type: E.Type) -> Bool {
        remote?.matches(type) ?? false
    }

    /// The task's own error, rebuilt, when this is a ``Code/remoteError`` whose task threw
    /// an `E` that came back encoded; nil otherwise (another code, another type, or an error
    /// that was not `Encodable`). ``RemoteError/decode(_:)`` says why one does not decode.
    public func remoteError<E: Error & Decodable>(as type: E.Type) -> E? {
        guard let remote, remote.matches(type) else { return nil }
        return try? remote.decode(type)
    }
}
