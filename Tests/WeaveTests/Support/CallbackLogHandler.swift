import Logging

/// A log handler that calls `onLog` for every record (trace level and up), for tests that
/// need a handler to do something at the moment a record is logged.
struct CallbackLogHandler: LogHandler {
    let onLog: @Sendable (LogEvent) -> Void
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { onLog(event) }
}
