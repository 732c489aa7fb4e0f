import WeaveCore

/// A ``ProcessTask`` that travels between a ``ProcessPool`` and its workers as its bytes:
/// no `Codable` pass on either side, for either the task or its ``ProcessTask/Output``.
///
/// For tiny tasks sent by the thousand (`map` with a `chunkSize`), encoding each value
/// through `Codable` costs more than the work. A task whose stored properties are all plain
/// values (numbers, `Bool`, tuples and structs of them: what `BitwiseCopyable` admits, which
/// the compiler checks) can opt in, and a chunk of them is one copy of memory:
///
/// ```swift
/// struct Increment: BitwiseProcessTask {
///     let value: Int
///     func run() throws -> Int { value + 1 }
/// }
/// ```
///
/// The bytes are the value as this program lays it out, so the worker must be built from
/// the same declaration, as it is when it is this program (the default; a
/// ``ProcessPool/Configuration/executable`` of another build must declare the type
/// identically). A custom `encode(to:)` or `init(from:)` is bypassed by the pool: a type
/// that relies on one (to drop, check or rewrite a field) should stay a plain
/// ``ProcessTask``. ``ChildProcess`` and a pool's initializer still use `Codable`.
public protocol BitwiseProcessTask: ProcessTask, BitwiseCopyable where Output: BitwiseCopyable {}
