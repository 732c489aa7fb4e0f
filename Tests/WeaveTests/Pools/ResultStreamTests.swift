import TestTasks
import Testing
import Weave
import WeaveTestSupport

/// The one shape of results that arrive over time (`MapResults`, `ProcessMapResults`,
/// `Completions`, `Channel`): `next(timeout:)` throws, and a `for` loop never loses an error.
@Suite("Results over time", .timeLimit(.minutes(2)))
struct ResultStreamTests {
    @Test("a for loop over Pool.imap gets the values, then the failure as the last element")
    func poolImapForLoop() async throws {
        let outcomes = try await onHub { () throws -> [String] in
            let pool = Pool(size: 3, label: "loop")
            var outcomes: [String] = []
            for result in pool.imap(0..<6, { value -> Int in
                if value == 3 { throw StreamFailure(reason: "item 3") }
                return value * 10
            }) {
                switch result {
                case .success(let value): outcomes.append("\(value)")
                case .failure(let error): outcomes.append("error: \(error)")
                }
            }
            return outcomes
        }
        #expect(outcomes == ["0", "10", "20", "error: item 3"])
    }

    @Test("a for loop over Pool.imap in a cancelled coroutine ends with CancellationError")
    func poolImapForLoopCancelled() async throws {
        let last = try await onHub { () throws -> String in
            let pool = Pool(size: 2)
            let gate = Event()
            let reader = try spawn { () -> String in
                var last = "none"
                for result in pool.imap(0..<4, { value -> Int in try gate.wait(); return value }) {
                    last = (try? result.get()).map { "\($0)" } ?? "\(type(of: result.failureValue!))"
                }
                return last
            }
            try Coroutine.sleep(for: .milliseconds(5))
            reader.cancel()
            return try reader.join()
        }
        #expect(last == "CancellationError")
    }

    @Test("a for loop over completed(_:) yields every coroutine in finish order")
    func completionsForLoop() async throws {
        let order = try await onHub { () throws -> [String] in
            // Ordered by events, not by timers (a loaded machine can fire two timers in one
            // pass): "slow" ends only once the loop has seen "fast".
            let release = Event()
            let slow = try spawn(name: "slow") { try release.wait() }
            let fast = try spawn(name: "fast") { try Coroutine.sleep(for: .milliseconds(1)) }
            var order: [String] = []
            for done in completed([slow, fast]) {
                order.append(done.name ?? "?")
                release.set()
            }
            return order
        }
        #expect(order == ["fast", "slow"])
    }

    @Test("a timeout scope that expires during a for loop over completed(_:) is thrown by the scope")
    func completionsForLoopKeepsInterruption() async throws {
        let (thrown, seen) = try await onHub { () throws -> (Bool, Int) in
            let sleeper = try spawn { try Coroutine.sleep(for: .seconds(30)) }
            var seen = 0
            var thrown = false
            do {
                try withTimeout(.milliseconds(10), operation: "wait for all") {
                    for _ in completed([sleeper]) { seen += 1 }
                }
            } catch is TimeoutError {
                thrown = true
            }
            sleeper.cancel()
            return (thrown, seen)
        }
        #expect(thrown)
        #expect(seen == 0)
    }

    @Test("ProcessMapResults.next(timeout:) throws its own timeout without abandoning, and throws a failure at its index then goes on")
    func processImapNextTimeout() async throws {
        let (timedOut, values, failedAt) = try await onHub { () throws -> (Bool, [Int], [Int]) in
            let pool = try testPool(workers: 2)
            defer { pool.terminate() }
            let tasks = [NapThenMaybeFail(0, milliseconds: 300), NapThenMaybeFail(1, milliseconds: 0, fails: true),
                         NapThenMaybeFail(2, milliseconds: 0)]
            let results = try pool.imap(tasks)
            var timedOut = false
            do { _ = try results.next(timeout: .milliseconds(20)) } catch let error as TimeoutError {
                timedOut = error.scope == nil
            }
            var values: [Int] = []
            var failedAt: [Int] = []
            var index = 0
            while true {
                do {
                    guard let value = try results.next(timeout: .seconds(30)) else { break }
                    values.append(value)
                } catch is ProcessError {
                    failedAt.append(index)
                }
                index += 1
            }
            return (timedOut, values, failedAt)
        }
        #expect(timedOut)
        #expect(values == [0, 4])
        #expect(failedAt == [1])
    }
}

private struct StreamFailure: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

private extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
