import Glibc
import Testing
import Weave

@Suite("stack overflow")
struct StackOverflowTests {
    @Test("an overflow into the guard region is reported with the coroutine's name, id, spawn site and stack size")
    func overflowIsReported() async {
        // Inside an exit test's body, `#line` (so the spawn site) is the `#expect`'s line.
        let spawnLine = #line + 1
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try Hub.run {
                try spawn(name: "deep", stackSize: 64 * 1024) { recurse(1_000_000) }.join()
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("stack overflow in coroutine 'deep' (#2) spawned at WeaveTests/StackOverflowTests.swift:\(spawnLine) (stack size"),
                "\(stderr.suffix(500))")
    }

    @Test("an unnamed coroutine's overflow names its id and spawn site")
    func unnamedOverflowIsReported() async {
        let spawnLine = #line + 1  // the `#expect`'s line: the spawn site within an exit test
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try Hub.run {
                try spawn { 1 }.join()
                try spawn(stackSize: 64 * 1024) { recurse(1_000_000) }.join()
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("stack overflow in coroutine #3 spawned at WeaveTests/StackOverflowTests.swift:\(spawnLine) (stack size"),
                "\(stderr.suffix(500))")
    }

    @Test("a detached unnamed coroutine's overflow names its id and spawn site")
    func detachedOverflowIsReported() async {
        let spawnLine = #line + 1  // the `#expect`'s line: the spawn site within an exit test
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try Hub.run {
                let done = WaitGroup()
                try done.add()
                try spawnDetached(stackSize: 64 * 1024) { _ = recurse(1_000_000); try? done.done() }
                try done.wait()
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("stack overflow in coroutine #2 spawned at WeaveTests/StackOverflowTests.swift:\(spawnLine) (stack size"),
                "\(stderr.suffix(500))")
    }

    @Test("the mprotect fallback reports overflows too")
    func overflowWithMprotectGuards() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var configuration = Hub.Configuration()
            configuration.guardMode = .mprotect
            try Hub.run(configuration: configuration) {
                guard Hub.current!.usesMprotectGuards else { exit(0) }
                try spawn(name: "deep-mprotect") { recurse(10_000_000) }.join()
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("stack overflow in coroutine 'deep-mprotect'"))
    }

    @Test("past the mapping budget, spawn throws and the process keeps working")
    func mappingBudget() async {
        await #expect(processExitsWith: .success) {
            var configuration = Hub.Configuration()
            configuration.guardMode = .mprotect
            var spawned = 0
            var code: WeaveError.Code?
            try Hub.run(configuration: configuration) {
                do {
                    while true {
                        try spawn { try Coroutine.sleep(for: .seconds(60)) }
                        spawned += 1
                    }
                } catch let error as WeaveError {
                    code = error.code
                }
            }
            guard code == .mappingBudgetExhausted, spawned > 1_000 else { exit(5) }
            // The rest of the process can still map memory.
            let buffers = (0..<64).map { _ in [UInt8](repeating: 1, count: 1 << 20) }
            guard buffers.count == 64 else { exit(6) }
            _ = try Hub.run { try spawn { 1 }.join() }
        }
    }
}

@inline(never)
func recurse(_ depth: Int) -> Int {
    var frame = (depth, depth &+ 1, depth &+ 2, depth &+ 3, depth &+ 4, depth &+ 5, depth &+ 6, depth &+ 7)
    if depth == 0 { return 0 }
    return withUnsafeMutablePointer(to: &frame) { pointer in
        pointer.pointee.0 &+ recurse(depth - 1)
    }
}
