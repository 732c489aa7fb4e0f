import Glibc

// Named `processID`/`parentProcessID` on `Weave` rather than a `ProcessInfo` type, which
// would clash with Foundation's in every file that imports both.
extension Weave {
    /// This process's id (`getpid()`). Never blocks, never throws.
    public static var processID: Int32 { getpid() }

    /// The id of this process's parent (`getppid()`): 1, or a subreaper's, once the parent
    /// has died. Never blocks, never throws.
    public static var parentProcessID: Int32 { getppid() }
}
