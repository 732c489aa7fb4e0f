import WeaveCore

/// A chunk of registered tasks as one message, for transports other than a pool's
/// socketpair (WeaveDistributed's broker): the same binary encoding, the same registry and
/// the same failure shape (``ProcessError``/``RemoteError``) as ``ProcessPool``.
///
/// ```
/// request  name:string  count:varint  task:value × count
/// reply    a WorkerProtocol `succeeded` or `failed` frame with task id 0
/// ```
package enum EncodedTask {
    /// Registers task types for ``run(_:)`` without turning the process into a worker.
    package static func register(_ tasks: [any ProcessTask.Type]) {
        TaskRegistry.register(tasks)
    }

    /// The ``ProcessError/Code/closed`` error of a pool that closed under a caller.
    package static func closedError(_ message: String) -> ProcessError {
        ProcessError(.closed, message)
    }

    /// Encodes `tasks` (one type, one or more) as a request.
    package static func encode<Task: ProcessTask>(_ tasks: some Sequence<Task>, count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        WorkerProtocol.appendString(Task.taskName, to: &bytes)
        WorkerProtocol.appendVarint(UInt64(count), to: &bytes)
        try BinaryEncoder().encode(contentsOf: tasks, appendingTo: &bytes)
        return bytes
    }

    /// The task name of a request, or nil when the request is too short to hold one.
    package static func name(of request: [UInt8]) -> String? {
        request.withUnsafeBytes { raw in
            var cursor = WorkerProtocol.Cursor(raw)
            return try? cursor.string()
        }
    }

    /// Runs a request's tasks in the calling coroutine, in order, and returns the reply:
    /// their outputs, or the failure of the first one that threw (or of a request that
    /// cannot be decoded, or names a task this process did not register).
    package static func run(_ request: [UInt8], maximumReplySize: Int = ProcessPool.defaultMaximumFrameSize) -> [UInt8] {
        var reply: [UInt8] = []
        do {
            try request.withUnsafeBytes { raw in
                var cursor = WorkerProtocol.Cursor(raw)
                let name: String
                let count: UInt64
                do {
                    name = try cursor.string()
                    count = try cursor.varint()
                } catch {
                    throw WorkerProtocol.Failure(.malformedFrame, type: "ProcessError", message: "task request: \(error)")
                }
                guard let type = TaskRegistry.lookup(name) else {
                    throw WorkerProtocol.Failure(
                        .unregisteredTask, type: "ProcessError",
                        message: "task '\(name)' is not registered in this worker; pass it to the worker's task list")
                }
                var output: [UInt8] = [WorkerProtocol.succeeded, 0]
                try TaskRegistry.run(type, count: count, arguments: cursor.rest, into: &output, using: BinaryCoders())
                reply = output
            }
        } catch let failure as WorkerProtocol.Failure {
            reply = []
            WorkerProtocol.appendFailure(taskID: 0, failure, to: &reply)
        } catch {
            reply = []
            WorkerProtocol.appendFailure(taskID: 0, WorkerProtocol.Failure(thrown: error, maximumFrameSize: maximumReplySize), to: &reply)
        }
        return reply
    }

    /// Decodes a reply to a request of `count` tasks: their outputs in order, or throws
    /// the failure as ``ProcessPool`` reports it (`what` names the task and where it ran).
    package static func decodeReply<Output: Decodable>(_ reply: [UInt8], count: Int, as type: Output.Type, what: String) throws -> [Output] {
        try reply.withUnsafeBytes { raw in
            var cursor = WorkerProtocol.Cursor(raw)
            let kind = try cursor.byte()
            _ = try cursor.varint()
            switch kind {
            case WorkerProtocol.succeeded:
                let rest = cursor.rest
                return try BinaryCoders().reading(rest) { reader in
                    var position = 0
                    let outputs = try [Output](unsafeUninitializedCapacity: count) { buffer, initialized in
                        guard let base = buffer.baseAddress else { return }
                        try reader.decodeRun(type, count: count, into: base, at: &position, initialized: &initialized)
                    }
                    guard position == rest.count else {
                        throw ProcessError(.malformedFrame, "\(what): \(rest.count - position) bytes left after \(count) results")
                    }
                    return outputs
                }
            case WorkerProtocol.failed:
                let failure = try WorkerProtocol.Failure.read(&cursor)
                switch failure.kind {
                case .unregisteredTask: throw ProcessError(.unregisteredTask, "\(what): \(failure.message)")
                case .malformedFrame: throw ProcessError(.malformedFrame, "\(what): \(failure.message)")
                case .frameTooLarge: throw ProcessError(.frameTooLarge, "\(what): \(failure.message)")
                case .thrown: throw ProcessError(.remoteError, "\(what) threw: \(failure.type): \(failure.message)", remote: failure.remote)
                }
            default:
                throw ProcessError(.malformedFrame, "\(what): unknown reply kind \(kind)")
            }
        }
    }
}
