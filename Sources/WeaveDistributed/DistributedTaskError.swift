/// A task (or chunk of tasks) that the broker gave up on: it came back to the caller as a
/// dead letter instead of a result.
///
/// Match on ``code``; ``taskName`` and ``taskID`` say which task it was, and
/// ``description`` tells the whole story, for example `task 7 (Poison) on queue 'jobs'
/// was dead-lettered after 3 deliveries: each one ended with its worker gone (a poison task)`.
public struct DistributedTaskError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: Hashable, Sendable {
            case deliveryLimitExceeded, rejected, deadLettered
        }
        let storage: Storage

        /// The task was delivered ``DistributedPool/Configuration/maximumDeliveries`` times
        /// and never acknowledged: each worker that took it died or lost its connection
        /// first (a poison task, or workers that keep crashing).
        public static let deliveryLimitExceeded = Code(storage: .deliveryLimitExceeded)
        /// A worker refused the message (it did not look like a pool's task).
        public static let rejected = Code(storage: .rejected)
        /// The broker dead-lettered the message for another reason (a queue length limit).
        public static let deadLettered = Code(storage: .deadLettered)

        public var description: String { "\(storage)" }
    }

    /// Why the broker gave up on the task.
    public let code: Code
    /// The task type's registered name (``ProcessTask/taskName``).
    public let taskName: String
    /// The task's id in its pool: the correlation id its message carried.
    public let taskID: String
    /// The work queue the task was published to.
    public let queue: String
    /// How many tasks the message carried (a chunk fails as a whole).
    public let taskCount: Int
    /// The whole story, for logs.
    public let message: String

    init(_ code: Code, taskName: String, taskID: String, queue: String, taskCount: Int, message: String) {
        self.code = code
        self.taskName = taskName
        self.taskID = taskID
        self.queue = queue
        self.taskCount = taskCount
        self.message = message
    }

    public var description: String { message }
}
