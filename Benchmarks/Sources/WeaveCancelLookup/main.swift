// weave-cancel-lookup: what `CoroutineHandle.cancel()` costs with many coroutines alive
// (issue 12, item 8). N coroutines park on a long sleep; the oldest one's handle is
// cancelled and joined, REPS times (a new oldest each time). One JSON line.
//
//   weave-cancel-lookup [N=100000] [REPS=5]
//
// Build in release: `swift build -c release --product weave-cancel-lookup` in Benchmarks/.
import Glibc
import Weave
import BenchSupport

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let count = arguments.first ?? 100_000
let reps = arguments.dropFirst().first ?? 5

let microseconds = try Hub.run { () throws -> [Double] in
    // The targets are spawned first, so each is older than every other coroutine.
    let targets = try (0..<reps).map { _ in
        try spawn(stackSize: 16 * 1024) { try Coroutine.sleep(for: .seconds(3600)) }
    }
    let handles = targets.map { $0.handle() }
    let others = try (0..<count).map { _ in
        try spawn(stackSize: 16 * 1024) { try Coroutine.sleep(for: .seconds(3600)) }
    }
    try Coroutine.yield()
    var times: [Double] = []
    for (target, handle) in zip(targets, handles) {
        let start = nowNanos()
        handle.cancel()  // through the hub's cross-thread queue, as from a task
        _ = try? target.join()
        times.append(Double(nowNanos() - start) / 1e3)
    }
    // Unwind the rest before returning (shutdown's grace period is not for a million).
    for other in others { other.cancel() }
    for other in others { _ = try? other.join() }
    return times
}
let sorted = microseconds.sorted()
print("{\"bench\":\"handle-cancel\",\"alive\":\(count),\"reps\":\(reps),\"median_us\":\(Int(sorted[sorted.count / 2])),\"max_us\":\(Int(sorted.last ?? 0))}")
