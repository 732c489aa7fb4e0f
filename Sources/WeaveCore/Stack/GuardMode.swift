/// How coroutine stacks are protected against overflow.
public enum GuardMode: Sendable, Equatable {
    /// `MADV_GUARD_INSTALL` where the kernel has it (Linux 6.13+), which costs no extra
    /// mapping; otherwise `mprotect`, charged against the mapping budget.
    case automatic
    /// Always `mprotect(PROT_NONE)` guards: two mappings per stack, so a process tops out
    /// near `vm.max_map_count / 4` coroutines. For testing the fallback.
    case mprotect
}
