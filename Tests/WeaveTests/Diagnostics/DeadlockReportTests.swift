import Testing
import Weave
import WeaveTestSupport

@Suite("deadlock report")
struct DeadlockReportTests {
    private func deadlock(_ body: @escaping @Sendable () throws -> Void) async throws -> DeadlockError {
        var caught: DeadlockError?
        do {
            try await onHub(body)
        } catch let error as DeadlockError {
            caught = error
        }
        return try #require(caught)
    }

    @Test("two coroutines over two locks: both named, with what they wait on and who holds it")
    func twoLocks() async throws {
        let error = try await deadlock {
            let accounts = Lock(label: "accounts")
            let ledger = Lock(label: "ledger")
            let a = try spawn(name: "alice") {
                try accounts.withLock {
                    try Coroutine.yield()
                    try ledger.withLock {}
                }
            }
            let b = try spawn(name: "bob") {
                try ledger.withLock {
                    try Coroutine.yield()
                    try accounts.withLock {}
                }
            }
            try joinAll([a, b])
        }
        let alice = try #require(error.waiters.first { $0.name == "alice" })
        let bob = try #require(error.waiters.first { $0.name == "bob" })
        #expect(alice.heldBy == "'bob'")
        #expect(bob.heldBy == "'alice'")
        #expect(alice.waitingOn == "Lock 'ledger' (held by 'bob') acquire")
        #expect(error.description.contains("'bob' waiting on Lock 'accounts' (held by 'alice') acquire"))
        #expect(error.waiters.first { $0.name == "main" }?.heldBy == nil)

    }

    @Test("a consumer waiting on a queue nobody feeds is named with the queue")
    func queue() async throws {
        let error = try await deadlock {
            let jobs = Queue<String>(maxSize: 10, label: "jobs")
            let consumer = try spawn(name: "consumer") { _ = try jobs.get() }
            try consumer.join()
        }
        let consumer = try #require(error.waiters.first { $0.name == "consumer" })
        #expect(consumer.waitingOn == "Queue 'jobs' (0 of 10 items) get")
        #expect(consumer.heldBy == nil)
        #expect(error.waiters.first { $0.name == "main" }?.waitingOn == "join 'consumer'")
    }
}
