import Glibc
import WeaveCore

/// This process: its id and its parent's.
///
/// Named `CurrentProcess` rather than `ProcessInfo`, which would clash with Foundation's
/// type in every file that imports both.
public enum CurrentProcess {
    /// This process's id (`getpid()`). Never blocks, never throws.
    public static var id: Int32 { getpid() }

    /// The id of this process's parent (`getppid()`): 1, or a subreaper's, once the parent
    /// has died. Never blocks, never throws.
    public static var parentID: Int32 { getppid() }
}
