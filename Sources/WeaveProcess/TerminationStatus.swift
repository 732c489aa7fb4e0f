import Glibc
import WeaveCore

/// How a child process ended: it exited with a status, or a signal killed it.
///
/// Its ``description`` reads well in a log: `exited with status 3`, `killed by SIGTERM`.
public enum TerminationStatus: Hashable, Sendable, CustomStringConvertible {
    /// The process called `exit` (or returned from `main`) with this status.
    case exited(Int32)
    /// The process was killed by this signal (`SIGTERM` is 15, `SIGKILL` 9).
    case signaled(Int32)

    /// Whether the process exited with status 0.
    public var isSuccess: Bool { self == .exited(0) }

    /// `exited with status 3` or `killed by SIGTERM`.
    public var description: String {
        switch self {
        case .exited(let status): return "exited with status \(status)"
        case .signaled(let signal): return "killed by \(TerminationStatus.signalName(signal))"
        }
    }

    /// libuv reports (exit status, terminating signal), the signal 0 when there was none.
    init(exitStatus: Int64, signal: Int32) {
        self = signal != 0 ? .signaled(signal) : .exited(Int32(truncatingIfNeeded: exitStatus))
    }

    /// `SIGTERM` for 15; the number for a signal without a name here (real-time signals).
    static func signalName(_ signal: Int32) -> String {
        // glibc's sigabbrev_np is not imported by Swift's Glibc module: a table it is.
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
            SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
            SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
            SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP", SIGTTIN: "SIGTTIN",
            SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM",
            SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH", SIGIO: "SIGIO", SIGSYS: "SIGSYS",
        ]
        return names[signal] ?? "signal \(signal)"
    }
}
