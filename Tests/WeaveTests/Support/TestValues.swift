import Glibc
import Synchronization
import Weave

/// A class whose deinit is counted, to check that cancellation unwinds stacks.
final class DeinitCounter {
    let onDeinit: () -> Void
    init(_ onDeinit: @escaping () -> Void) { self.onDeinit = onDeinit }
    deinit { onDeinit() }
}

/// Ticks counted on the hub thread and read from another thread (a pool thread, a task).
final class TickCounter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

struct TestFailure: Error, Equatable {
    let tag: String
}
