import Weave
try Weave.run {
    let n = 2_000_000
    var count = 0
    let a = try spawn { for _ in 0..<n { count += 1; try AnyCoroutine.yield() } }
    let b = try spawn { for _ in 0..<n { count += 1; try AnyCoroutine.yield() } }
    let t0 = ContinuousClock.now
    try a.join(); try b.join()
    let d = ContinuousClock.now - t0
    print("yield ns:", Double(d.components.attoseconds) / 1e9 / Double(2*n) + Double(d.components.seconds) * 1e9 / Double(2*n))
    let t1 = ContinuousClock.now
    for _ in 0..<10 {
        var cs: [Coroutine<Void>] = []
        cs.reserveCapacity(1000)
        for _ in 0..<1000 { cs.append(try spawn { try AnyCoroutine.yield() }) }
        for c in cs { try c.join() }
    }
    var t2 = ContinuousClock.now
    print("spawn warm-up", t2 - t1)
    t2 = ContinuousClock.now
    for _ in 0..<1000 {
        var cs: [Coroutine<Void>] = []
        cs.reserveCapacity(1000)
        for _ in 0..<1000 { cs.append(try spawn { try AnyCoroutine.yield() }) }
        for c in cs { try c.join() }
    }
    let t3 = ContinuousClock.now
    print("spawn 1M batched per sec:", 1e6 / (Double((t3 - t2).components.seconds) + Double((t3 - t2).components.attoseconds) / 1e18))
}
