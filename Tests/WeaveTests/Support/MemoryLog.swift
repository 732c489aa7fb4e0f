import InMemoryLogging
import Logging

/// A logger at trace level writing into swift-log's in-memory handler, so tests can check
/// what the runtime logged (levels, constant messages, metadata).
struct MemoryLog: Sendable {
    let handler = InMemoryLogHandler()

    var logger: Logger {
        let handler = handler
        var logger = Logger(label: "weave-test") { _ in handler }
        logger.logLevel = .trace
        return logger
    }

    var entries: [InMemoryLogHandler.Entry] { handler.entries }
}

extension InMemoryLogHandler.Entry {
    /// A metadata value as text (nil when absent).
    subscript(_ key: String) -> String? { metadata[key].map { "\($0)" } }
}
