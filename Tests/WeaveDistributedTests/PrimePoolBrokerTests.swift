import Glibc
import RabbitMQTestSupport
import Testing
import Weave
import WeaveAMQP
import WeaveTestSupport

extension DistributedPoolTests {
    @Test("prime-pool --broker starts its own workers and counts the same primes through the broker")
    func primePoolOverBroker() async throws {
        let url = try RabbitMQBroker.suite.url
        try await onHub {
            let executable = testWorkerPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/prime-pool"
            let result = try Command.run(executable, arguments: ["--limit", "20000", "--tasks", "8", "--workers", "2", "--broker", url],
                                         timeout: .seconds(120), parentDeathSignal: SIGKILL)
            let output = result.outputString
            #expect(result.isSuccess, "\(result)")
            #expect(output.contains("broker: 8/8 ranges counted"))
            #expect(output.contains("DistributedPool(2)"))
            #expect(output.contains("2262 primes below 20000"))
            #expect(!output.contains("mismatch"))
            // The run's own work queue is gone with it.
            let connection = try AMQPConnection.connect(url: url)
            defer { connection.close() }
            let queue = try #require(output.split(separator: "'").dropFirst().first.map(String.init))
            #expect(queue.hasPrefix("prime-pool-"))
            #expect(try !queueExists(queue, on: connection))
        }
    }

    @Test("prime-pool rejects a --broker that is not an amqp:// URL")
    func primePoolRejectsBadBroker() async throws {
        try await onHub {
            let executable = testWorkerPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/prime-pool"
            let result = try Command.run(executable, arguments: ["--broker", "http://example"], timeout: .seconds(60))
            #expect(!result.isSuccess)
            #expect(String(decoding: result.standardError, as: UTF8.self).contains("--broker"))
        }
    }
}
