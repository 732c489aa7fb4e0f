/// What a parked coroutine waits on, kept cheap to record (no string is built unless a
/// report asks for it).
package enum WaitReason {
    package static func primitive(_ target: any WaitTarget, _ operation: StaticString) -> WaitReason {
        .primitive(Unmanaged.passUnretained(target as AnyObject), WaitOperation(operation))
    }

    case none
    case sleep
    case join(AnyCoroutine)
    case joinAll(Int)
    case completions
    case group
    /// Parked on a coordination primitive (a lock, a queue, an event...). Unretained: the
    /// primitive outlives the wait (the waiting call holds it), and recording the reason
    /// must cost no reference counting on every park.
    case primitive(Unmanaged<AnyObject>, WaitOperation)
    case other(String)

    package var description: String {
        switch self {
        case .none: return "nothing"
        case .sleep: return "sleep"
        case .join(let target): return "join \(target.displayName)"
        case .joinAll(let count): return "joinAll of \(count) coroutines"
        case .completions: return "completed(_:) next"
        case .group: return "withCoroutineGroup children"
        case .primitive(let target, let operation):
            let description = (target.takeUnretainedValue() as? any WaitTarget)?.waitDescription ?? "a primitive"
            return "\(description) \(operation)"
        case .other(let text): return text
        }
    }
}

/// The name of a blocking operation (`"acquire"`, `"receive"`), from a string literal:
/// recorded on every park without building a `String`.
package struct WaitOperation: CustomStringConvertible {
    let start: UnsafePointer<UInt8>
    let count: Int

    init(_ literal: StaticString) {
        start = literal.utf8Start
        count = literal.utf8CodeUnitCount
    }

    init(start: UnsafePointer<UInt8>, count: Int) {
        self.start = start
        self.count = count
    }

    package var description: String { String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self) }
}
