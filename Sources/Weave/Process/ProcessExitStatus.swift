import Glibc

/// How a child process ended: its exit status, or the signal that killed it.
public enum ProcessExitStatus: Equatable, Sendable, CustomStringConvertible {
    /// The process called `exit` (or returned from `main`) with this status.
    case exited(Int32)
    /// A signal killed the process.
    case signaled(Int32)

    /// Whether the process exited with status 0.
    public var isSuccess: Bool { self == .exited(0) }

    /// Such as `exited with status 3` or `killed by SIGKILL`.
    public var description: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signaled(let signal): "killed by \(ProcessPool.signalName(signal))"
        }
    }
}
