import Glibc
import Weave

/// A class whose deinit is counted, to check that cancellation unwinds stacks.
final class DeinitCounter {
    let onDeinit: () -> Void
    init(_ onDeinit: @escaping () -> Void) { self.onDeinit = onDeinit }
    deinit { onDeinit() }
}

struct TestFailure: Error, Equatable {
    let tag: String
}
