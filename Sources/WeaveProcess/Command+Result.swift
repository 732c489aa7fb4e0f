import WeaveCore

extension Command {
    /// What a finished ``Command/run(_:arguments:environment:workingDirectory:input:timeout:killGracePeriod:maxOutputSize:parentDeathSignal:)``
    /// captured: both output streams and how the child ended.
    public struct Result: Sendable, CustomStringConvertible {
        /// Everything the child wrote to its standard output.
        public let standardOutput: [UInt8]
        /// Everything the child wrote to its standard error.
        public let standardError: [UInt8]
        /// How the child ended.
        public let status: TerminationStatus

        /// Whether the child exited with status 0.
        public var isSuccess: Bool { status.isSuccess }
        /// The standard output decoded as UTF-8 (invalid bytes become U+FFFD).
        public var outputString: String { String(decoding: standardOutput, as: UTF8.self) }
        /// The standard error decoded as UTF-8 (invalid bytes become U+FFFD).
        public var errorString: String { String(decoding: standardError, as: UTF8.self) }

        /// The status and the byte counts, such as `exited with status 0, 12 bytes of output, 0 bytes of error output`.
        public var description: String {
            "\(status), \(standardOutput.count) bytes of output, \(standardError.count) bytes of error output"
        }
    }
}
