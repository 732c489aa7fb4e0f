import Synchronization
import WeaveCore

/// Work that runs in another process: a `Codable` value whose ``run()`` computes a
/// `Codable` ``Output``.
///
/// Closures cannot cross a process boundary, so work is a type: its stored properties are
/// the arguments, encoded with ``BinaryEncoder``. A type that cannot be encoded is a
/// compile-time error, not a pickling error at run time. Register every task type with
/// ``ProcessWorker/main(tasks:)`` on the first line of the program, which is also where a
/// worker process takes over:
///
/// ```swift
/// struct CountPrimes: ProcessTask {
///     let below: Int
///     func run() throws -> Int { (2..<below).count(where: isPrime) }
/// }
///
/// @main struct App {
///     static func main() throws {
///         ProcessWorker.main(tasks: [CountPrimes.self])   // workers never return from here
///         try Hub.run {
///             let pool = try ProcessPool()
///             print(try pool.apply(CountPrimes(below: 200_000)))
///         }
///     }
/// }
/// ```
///
/// ``run()`` runs on the worker's hub, inside a coroutine: it may use Weave's blocking
/// calls (sleep, sockets, subprocesses). An error it throws comes back to the caller as a
/// ``ProcessError`` with ``ProcessError/Code/remoteError``, carrying the error's type name
/// and description, and the error itself when its type is `Codable` (see ``RemoteError``):
///
/// ```swift
/// do {
///     _ = try pool.apply(Upload(user: "ada"))
/// } catch let error as ProcessError where error.isRemote(QuotaExceeded.self) {
///     let quota = error.remoteError(as: QuotaExceeded.self)   // the worker's value, decoded
/// }
/// ```
///
/// A task is not `Sendable`: it is encoded on the caller's hub, in the call that submits it,
/// and only its bytes travel, so it may hold handles that belong to that hub
/// (``ProcessPipe``, ``ProcessQueue``...). Its *type* is `SendableMetatype`: the registry
/// that maps names to task types is read from any worker's thread, so a conformance may not
/// be isolated to an actor.
public protocol ProcessTask: Codable, SendableMetatype {
    /// What ``run()`` returns, sent back to the caller.
    associatedtype Output: Codable & Sendable

    /// The name the task travels under; both processes must agree. Defaults to the
    /// module-qualified type name.
    static var taskName: String { get }

    /// Does the work, in the worker process.
    func run() throws -> Output
}

extension ProcessTask {
    public static var taskName: String { String(reflecting: Self.self) }
}

/// The task types this program can run when it is a worker, by name.
enum TaskRegistry {
    private static let types = Mutex<[String: any ProcessTask.Type]>([:])

    static func register(_ tasks: [any ProcessTask.Type]) {
        types.withLock { table in
            for task in tasks { table[task.taskName] = task }
        }
    }

    static func lookup(_ name: String) -> (any ProcessTask.Type)? {
        types.withLock { $0[name] }
    }

    /// Decodes the `count` tasks of a chunk (values one after another in `arguments`),
    /// runs each, and appends their encoded outputs to `output`: one decoding and one
    /// encoding pass for the chunk, not one per task.
    static func run(_ type: any ProcessTask.Type, count: UInt64, arguments: UnsafeRawBufferPointer, into output: inout [UInt8], using coders: BinaryCoders) throws {
        try runOpened(type, count: count, arguments: arguments, into: &output, using: coders)
    }

    /// Runs a chunk of ``BitwiseProcessTask``s: each task is `MemoryLayout.stride` bytes of
    /// `arguments` (unaligned), each output is appended as its own bytes.
    static func runBitwise(_ type: any BitwiseProcessTask.Type, count: UInt64, arguments: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try runBitwiseOpened(type, count: count, arguments: arguments, into: &output)
    }

    private static func runBitwiseOpened<T: BitwiseProcessTask>(_ type: T.Type, count: UInt64, arguments: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        let stride = MemoryLayout<T>.stride
        guard count <= UInt64(arguments.count), arguments.count == Int(count) * stride else {
            throw WorkerProtocol.Failure(.malformedFrame, type: "ProcessError", message: "cannot decode \(T.taskName): \(arguments.count) bytes for \(count) tasks of \(stride)")
        }
        let outputStride = MemoryLayout<T.Output>.stride
        let padding = outputStride - MemoryLayout<T.Output>.size
        output.reserveCapacity(output.count + Int(count) * outputStride)
        for index in 0..<Int(count) {
            let result = try arguments.loadUnaligned(fromByteOffset: index * stride, as: T.self).run()
            withUnsafeBytes(of: result) { output.append(contentsOf: $0) }
            for _ in 0..<padding { output.append(0) }
        }
    }

    private static func runOpened<T: ProcessTask>(_ type: T.Type, count: UInt64, arguments: UnsafeRawBufferPointer, into output: inout [UInt8], using coders: BinaryCoders) throws {
        var position = 0
        try coders.reading(arguments) { reader in
            try coders.appending(to: &output) { writer in
                for _ in 0..<count {
                    let task: T
                    do {
                        task = try reader.decodeNext(T.self, at: &position)
                    } catch {
                        throw WorkerProtocol.Failure(.malformedFrame, type: String(reflecting: Swift.type(of: error)), message: "cannot decode \(T.taskName): \(error)")
                    }
                    try writer.encodeValue(try task.run(), depth: 0)
                }
            }
        }
        guard position == arguments.count else {
            throw WorkerProtocol.Failure(.malformedFrame, type: "DecodingError", message: "cannot decode \(T.taskName): \(arguments.count - position) bytes left after \(count) tasks")
        }
    }
}
