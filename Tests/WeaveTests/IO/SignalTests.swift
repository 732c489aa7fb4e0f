import Glibc
import Testing
import Weave
import WeaveTestSupport

@Suite("signals")
struct SignalTests {
    @Test("a signal is delivered to the coroutine waiting for it (child process)")
    func delivered() async {
        await #expect(processExitsWith: .success) {
            let got = try Hub.run { () throws -> Bool in
                let waiter = try spawn { try waitForSignal(SIGUSR1, timeout: .seconds(30)) }
                try Coroutine.sleep(for: .milliseconds(10))
                kill(getpid(), SIGUSR1)
                try waiter.join(timeout: .seconds(30))
                return true
            }
            guard got else { exit(2) }
        }
    }

    @Test("waiting for a signal times out cleanly")
    func timesOut() async throws {
        let timedOut = try await onHub { () throws -> Bool in
            do { try waitForSignal(SIGUSR2, timeout: .milliseconds(10)) } catch is TimeoutError { return true }
            return false
        }
        #expect(timedOut)
    }
}
