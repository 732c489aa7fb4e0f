import Foundation
import RabbitMQTestSupport
import Weave
import WeaveAMQP
import WeaveTestSupport

/// Runs `body` on a hub of its own with a connection to the suite's broker, closed after.
func withConnection<T: Sendable>(
    _ configure: @escaping @Sendable (inout AMQPConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (AMQPConnection) throws -> T
) async throws -> T {
    let broker = try RabbitMQBroker.suite
    return try await onHub {
        var configuration = try AMQPConfiguration(url: broker.url)
        configure(&configuration)
        let connection = try AMQPConnection.connect(configuration)
        defer { connection.close() }
        return try body(connection)
    }
}

/// A name no other test uses.
func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}

/// Client connections open to `port` now, from any process (only this process talks to a
/// test's own broker): ESTABLISHED rows of /proc/net/tcp whose remote port is `port`.
func establishedConnections(toPort port: Int) -> Int {
    guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return -1 }
    let hexPort = String(format: ":%04X", port)
    return table.split(separator: "\n").dropFirst().filter { line in
        let fields = line.split(separator: " ")
        return fields.count > 3 && fields[2].hasSuffix(hexPort) && fields[3] == "01"
    }.count
}
