import WeaveCore

extension Command {
    /// Where a child's standard input, output or error goes.
    public enum Redirection: Sendable {
        /// A pipe to this process: the child's ``RunningProcess/standardInput`` (or output,
        /// or error) stream.
        case pipe
        /// The same file descriptor as this process's (a terminal, a log file).
        case inherit
        /// `/dev/null`: the child reads end of file, its output is dropped.
        case discard
    }
}
