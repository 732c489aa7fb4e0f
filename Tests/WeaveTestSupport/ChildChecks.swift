import Glibc
import Weave

/// Ends an exit test's child process with `status` after writing `child failed: <reason>` to
/// stderr, which the parent looks for in the child's output.
public func failChild(_ reason: String, status: Int32) -> Never {
    FileHandleStandardError.write("child failed: \(reason)\n")
    exit(status)
}

/// In an exit test's child, on its hub: gives closed connections' reader and writer coroutines
/// up to about a second to see their sockets closed and end, then fails the child (status 11)
/// unless the coroutines alive are back to `baseline`.
public func expectCoroutinesSettle(at baseline: Int) throws {
    for _ in 0..<200 where aliveCoroutines() != baseline { try Coroutine.sleep(for: .milliseconds(5)) }
    let alive = aliveCoroutines()
    if alive != baseline { failChild("\(alive) coroutines alive, baseline \(baseline)", status: 11) }
}

/// In an exit test's child, after its hub has ended: fails the child (status 10) unless the
/// open sockets are back to `before`.
public func expectSocketsBack(to before: Int) {
    let after = openSocketCount()
    if after != before { failChild("\(after) sockets open, \(before) before", status: 10) }
}
