import WeaveCore

extension ProcessPool {
    /// Runs an ``EncodedTask`` request as one chunk on this pool's workers and returns its
    /// reply, as ``EncodedTask/run(_:maximumReplySize:)`` would in-process. A task that
    /// threw, a worker that died in it or a `timeout` comes back as a failure reply (the
    /// last two as a thrown `ProcessError`/`TimeoutError`, by name and description).
    ///
    /// Parks the calling coroutine until the chunk's outcome.
    ///
    /// - Throws: The pool's own failure (closed, broken), `CancellationError`: nothing the
    ///   request's sender should be answered with.
    package func runEncoded(_ request: [UInt8], timeout: Duration? = nil) throws -> [UInt8] {
        let coroutine = try AnyCoroutine.requireCurrent("ProcessPool.runEncoded")
        if let brokenError { throw brokenError }
        guard !isClosed else { throw ProcessError(.closed, "ProcessPool is closed: no new tasks") }
        let header: (name: String, count: UInt64, start: Int)
        do {
            header = try request.withUnsafeBytes { raw in
                var cursor = WorkerProtocol.Cursor(raw)
                let name = try cursor.string()
                let count = try cursor.varint()
                guard count <= UInt64(raw.count) else { throw WorkerProtocol.Cursor.truncated }
                return (name, count, cursor.position)
            }
        } catch {
            var reply: [UInt8] = []
            WorkerProtocol.appendFailure(taskID: 0, .init(.malformedFrame, type: "ProcessError", message: "task request: \(error)"), to: &reply)
            return reply
        }
        let waiter = PoolTaskWaiter(coroutine)
        nextTaskID &+= 1
        let item = PoolTask(id: nextTaskID, name: header.name, count: Int(header.count), arguments: Array(request[header.start...]),
                            timeout: timeout, sink: waiter)
        pending.append(item)
        dispatch()
        try flushWorkers()
        try wait(for: item, waiter: waiter)
        var reply: [UInt8] = []
        switch item.outcome.unsafelyUnwrapped {
        case .success(let outputs):
            reply = [WorkerProtocol.succeeded, 0]
            reply += outputs
        case .failure(let error as ProcessError):
            let failure: WorkerProtocol.Failure
            switch error.code {
            case .closed: throw error
            case .remoteError:
                let remote = error.remote
                failure = .init(.thrown, type: remote?.typeName ?? "ProcessError", message: remote?.description ?? error.message, encoded: remote?.encoded)
            case .unregisteredTask: failure = .init(.unregisteredTask, type: "ProcessError", message: error.message)
            case .malformedFrame: failure = .init(.malformedFrame, type: "ProcessError", message: error.message)
            case .frameTooLarge: failure = .init(.frameTooLarge, type: "ProcessError", message: error.message)
            default:
                if let brokenError { throw brokenError }
                failure = .init(thrown: error, maximumFrameSize: configuration.maximumFrameSize)
            }
            WorkerProtocol.appendFailure(taskID: 0, failure, to: &reply)
        case .failure(let error):
            WorkerProtocol.appendFailure(taskID: 0, .init(thrown: error, maximumFrameSize: configuration.maximumFrameSize), to: &reply)
        }
        return reply
    }
}
