import Synchronization

/// The connections open over every hub of a group server (``GroupStreamServer``,
/// ``GroupUnixStreamServer``), and its limit: one atomic count shared by every hub.
final class OpenConnections: Sendable {
    let limit: Int?
    let count = Atomic<Int>(0)

    init(limit: Int?) {
        self.limit = limit
    }

    /// Counts a connection in; false (and not counted) when that would pass the limit.
    func admit() -> Bool {
        let now = count.wrappingAdd(1, ordering: .relaxed).newValue
        if let limit, now > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }
}
