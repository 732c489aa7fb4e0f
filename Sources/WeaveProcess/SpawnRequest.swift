import CLibUV
import CWeaveProcess
import Glibc
import WeaveCore

/// Everything one child needs until its `exec`, in memory that does not move: the C request,
/// `argv`, `envp`, the descriptor table and the child's scratch space. The child shares this
/// process's memory until it execs, so nothing here may be freed or changed meanwhile; the
/// request is handed to one thread at a time (the hub, the spawner thread, the hub again).
final class SpawnRequest: @unchecked Sendable {
    /// Owned; freed in deinit.
    let raw: UnsafeMutablePointer<weave_spawn_request>
    /// Owned C strings (path, directory, arguments, environment), freed in deinit.
    private let strings: [UnsafeMutablePointer<CChar>]
    /// NULL-terminated; owned.
    private let argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    private let descriptors: UnsafeMutablePointer<Int32>
    private let scratch: UnsafeMutablePointer<Int32>
    /// The program, for error messages.
    let path: String

    /// `arguments` is the whole `argv` (its first element names the program). The child's
    /// descriptor `i` is a copy of `descriptors[i]` (-1: `/dev/null`); it holds no other.
    init(path: String, arguments: [String], environment: [String]?, workingDirectory: String?,
         descriptors: [Int32], deathSignal: Int32?) {
        self.path = path
        var owned: [UnsafeMutablePointer<CChar>] = []
        func own(_ string: String) -> UnsafeMutablePointer<CChar> {
            let copy = strdup(string)!
            owned.append(copy)
            return copy
        }
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
        for (index, argument) in arguments.enumerated() { argv[index] = own(argument) }
        argv[arguments.count] = nil
        var envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        if let environment {
            let pointers = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: environment.count + 1)
            for (index, entry) in environment.enumerated() { pointers[index] = own(entry) }
            pointers[environment.count] = nil
            envp = pointers
        }
        let table = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, descriptors.count))
        for (index, fd) in descriptors.enumerated() { table[index] = fd }
        let scratch = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, descriptors.count))
        let raw = UnsafeMutablePointer<weave_spawn_request>.allocate(capacity: 1)
        raw.initialize(to: weave_spawn_request())
        raw.pointee.path = UnsafePointer(own(path))
        raw.pointee.argv = UnsafePointer(argv)
        raw.pointee.envp = envp.map { UnsafePointer($0) }
        raw.pointee.directory = workingDirectory.map { UnsafePointer(own($0)) }
        raw.pointee.descriptors = UnsafePointer(table)
        raw.pointee.scratch = scratch
        raw.pointee.descriptor_count = Int32(descriptors.count)
        raw.pointee.death_signal = deathSignal ?? 0
        self.raw = raw
        self.argv = argv
        self.envp = envp
        self.descriptors = table
        self.scratch = scratch
        self.strings = owned
    }

    deinit {
        for string in strings { free(string) }
        argv.deallocate()
        envp?.deallocate()
        descriptors.deallocate()
        scratch.deallocate()
        raw.deallocate()
    }

    /// Starts the child on the calling thread, which waits only for the child's `exec`.
    /// `stack` is the child's stack meanwhile (not used by anyone else until this returns).
    func run(stack: UnsafeMutableRawPointer, size: Int) {
        _ = weave_spawn(raw, stack, size)
    }

    /// Starts the child on the calling thread with a stack of its own for the call.
    func runHere() {
        let stack = UnsafeMutableRawPointer.allocate(byteCount: SpawnRequest.childStackSize, alignment: 16)
        defer { stack.deallocate() }
        run(stack: stack, size: SpawnRequest.childStackSize)
    }

    /// The child's stack until its exec: it makes a few raw system calls, nothing more.
    static let childStackSize = 64 * 1024

    /// The errno of the failed step, or 0 once the child runs its program.
    var error: Int32 { raw.pointee.error }
    var pid: Int32 { raw.pointee.pid }
    var pidfd: Int32 { raw.pointee.pidfd }

    /// What failed, for a ``ProcessError/Code/spawnFailed`` message: `ENOENT (no such file or directory)`,
    /// with the step when it was not the exec itself.
    var failureDescription: String {
        let code = raw.pointee.error
        let reason = "\(String(cString: uv_err_name_errno(code))) (\(String(cString: strerror(code))))"
        switch Int(raw.pointee.step) {
        case Int(WEAVE_SPAWN_STEP_CLONE): return "\(reason) (clone)"
        case Int(WEAVE_SPAWN_STEP_DESCRIPTORS): return "\(reason) (setting up its descriptors)"
        case Int(WEAVE_SPAWN_STEP_DIRECTORY): return "\(reason) (changing to its working directory)"
        case Int(WEAVE_SPAWN_STEP_DEATH_SIGNAL): return "\(reason) (setting its parent-death signal)"
        case Int(WEAVE_SPAWN_STEP_PIDFD): return "\(reason) (pidfd_open: Linux 5.3 or later is required)"
        default: return reason
        }
    }

    /// The hub that asked is gone (it closed while the spawn was in flight): nobody will
    /// watch this child, so it is killed and reaped here, on the spawner's thread.
    func abandon() {
        guard raw.pointee.error == 0, raw.pointee.pid > 0 else { return }
        Glibc.kill(raw.pointee.pid, SIGKILL)
        var status: Int32 = 0
        var signal: Int32 = 0
        _ = weave_spawn_reap(raw.pointee.pid, 1, &status, &signal)
        Glibc.close(raw.pointee.pidfd)
    }
}

/// libuv's name for an errno (`ENOENT`): libuv's codes are negated errnos on Linux.
private func uv_err_name_errno(_ code: Int32) -> UnsafePointer<CChar> {
    uv_err_name(-code)
}
