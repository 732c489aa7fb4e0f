/// What a parked coroutine waits on, kept cheap to record (no string is built unless a
/// report asks for it).
enum WaitReason {
    case none
    case sleep
    case join(AnyCoroutine)
    case joinAll(Int)
    case completions
    case group
    /// Parked on a coordination primitive (a lock, a queue, an event...).
    case primitive(any WaitTarget, StaticString)
    case other(String)

    var description: String {
        switch self {
        case .none: return "nothing"
        case .sleep: return "sleep"
        case .join(let target): return "join \(target.displayName)"
        case .joinAll(let count): return "joinAll of \(count) coroutines"
        case .completions: return "completed(_:) next"
        case .group: return "withCoroutineGroup children"
        case .primitive(let target, let operation): return "\(target.waitDescription) \(operation)"
        case .other(let text): return text
        }
    }
}
