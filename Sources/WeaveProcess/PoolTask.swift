import WeaveCore

/// One message of work in a ``ProcessPool``: a chunk of one or more encoded tasks of one
/// type, from submission until its result (or failure) is delivered to its sink.
final class PoolTask: WaitTarget {
    let id: UInt64
    let name: String
    let count: Int
    /// The encoded tasks, one ``BinaryFormat`` value after another, or their bytes when
    /// `isBitwise` (a ``BitwiseProcessTask``, whose outputs come back as bytes too).
    let arguments: [UInt8]
    let isBitwise: Bool
    /// How long it may run on a worker before the worker is killed.
    let timeout: Duration?
    /// Who is told of the result; nil once nobody cares (a cancelled caller).
    var sink: (any PoolTaskSink)?
    /// The encoded outputs (`count` values), or why there are none.
    var outcome: Result<[UInt8], any Error>?
    /// Set while in flight on a worker.
    var worker: PoolWorker?
    /// Armed while this task is the one its worker is running.
    var timer: TimerNode?

    init(id: UInt64, name: String, count: Int, arguments: [UInt8], isBitwise: Bool = false, timeout: Duration?, sink: (any PoolTaskSink)?) {
        self.id = id
        self.name = name
        self.count = count
        self.arguments = arguments
        self.isBitwise = isBitwise
        self.timeout = timeout
        self.sink = sink
    }
}

extension PoolTask {
    /// Dumps and deadlock reports show `ProcessPool task 17 (CountPrimes) on worker 4121 result`.
    var waitDescription: String {
        let place = worker.map { "on worker \($0.process.pid)" } ?? (outcome == nil ? "queued" : "finished")
        return "ProcessPool task \(id) (\(name)) \(place)"
    }
}

/// Receives finished tasks, on the hub's thread, from a libuv callback: never parks.
protocol PoolTaskSink: AnyObject {
    func taskFinished(_ task: PoolTask)
}

/// The sink of one blocking call: wakes the coroutine that waits for the task.
final class PoolTaskWaiter: PoolTaskSink {
    let coroutine: AnyCoroutine
    private(set) var isDone = false

    init(_ coroutine: AnyCoroutine) { self.coroutine = coroutine }

    func taskFinished(_ task: PoolTask) {
        isDone = true
        coroutine.hub.makeReady(coroutine)
    }
}

extension PoolTask {
    /// Decodes the `count` outputs of a finished task, in order, into a new array.
    func decodeOutputs<Output: Decodable>(_ type: Output.Type, using coders: BinaryCoders) throws -> [Output] {
        try [Output](unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            try decodeOutputs(type, into: base, initialized: &initialized, using: coders)
        }
    }

    /// Decodes the `count` outputs of a finished task, in order, straight into `buffer`
    /// (uninitialized room for `count` values): no array of its own, so ``ProcessPool/map(_:chunkSize:timeout:)``
    /// fills its result in place. `initialized` counts the values in place should it throw.
    /// This code is not specialized for `Output`: an `append` a value would look up
    /// `Array<Output>`'s metadata each time.
    func decodeOutputs<Output: Decodable>(_ type: Output.Type, into buffer: UnsafeMutablePointer<Output>, initialized: inout Int, using coders: BinaryCoders) throws {
        let bytes = try outcome.unsafelyUnwrapped.get()
        if isBitwise {
            let stride = MemoryLayout<Output>.stride
            guard bytes.count == count * stride else {
                throw ProcessError(.malformedFrame, "task \(id) (\(name)): \(bytes.count) bytes of results, not \(count) × \(stride)")
            }
            // The frame's bytes are not aligned for `Output`: one copy of them all.
            if count > 0 {
                bytes.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            }
            initialized = count
            return
        }
        try bytes.withUnsafeBytes { raw in
            try coders.reading(raw) { reader in
                var position = 0
                try reader.decodeRun(type, count: count, into: buffer, at: &position, initialized: &initialized)
                guard position == raw.count else {
                    throw ProcessError(.malformedFrame, "task \(id) (\(name)): \(raw.count - position) bytes left after \(count) results")
                }
            }
        }
    }
}
