/// A coordination primitive was misused, or a wait could not complete.
public struct SyncError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case notOwner, alreadyHeld, overRelease, brokenBarrier, alreadyResolved, negativeCount
        }
        let storage: Storage

        /// Releasing a lock (or waiting on a condition) without holding it.
        public static let notOwner = Code(storage: .notOwner)
        /// Acquiring a non-reentrant ``Lock`` the coroutine already holds (it would never return).
        public static let alreadyHeld = Code(storage: .alreadyHeld)
        /// Releasing a ``BoundedSemaphore`` above its initial value.
        public static let overRelease = Code(storage: .overRelease)
        /// A ``Barrier`` party was cancelled or timed out, or the barrier was reset.
        public static let brokenBarrier = Code(storage: .brokenBarrier)
        /// Setting an ``Future`` that already has a value or an error.
        public static let alreadyResolved = Code(storage: .alreadyResolved)
        /// A ``WaitGroup`` counter would drop below zero.
        public static let negativeCount = Code(storage: .negativeCount)

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
