/// A queue or channel operation that cannot complete.
public struct QueueError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable { case shutDown, taskDoneTooOften, closed }
        let storage: Storage

        /// The queue was shut down (Python 3.13's `ShutDown`).
        public static let shutDown = Code(storage: .shutDown)
        /// `taskDone` called more times than items were put.
        public static let taskDoneTooOften = Code(storage: .taskDoneTooOften)
        /// Sending on a closed ``Channel``.
        public static let closed = Code(storage: .closed)

        public var description: String { "\(storage)" }
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
