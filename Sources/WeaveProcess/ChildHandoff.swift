import CLibUV
import Glibc
import Synchronization
import WeaveCore

/// How a ``ProcessPipe`` end, a ``ProcessQueue``, a managed collection or a ``ProcessLock``
/// travels inside a task given to ``ChildProcess``.
///
/// While ``ChildProcess`` encodes its task, a handoff is bound to the encoding thread. A
/// handle's `encode(to:)` asks it for a *slot*: the handoff records a file descriptor the
/// child must inherit and encodes only the slot number. The spawn then places slot `i` at
/// fd `4 + i` in the child (fd 3 is the worker channel), and the child's `init(from:)`
/// opens fd `4 + i`. After the spawn the parent closes its copies, so no descriptor stays
/// behind in the parent. The child marks every inherited descriptor close-on-exec at once
/// (``recordInherited(_:)``): a program it runs must not keep a link open after the child
/// dies (a lock would stay held, a queue item would go to a dead consumer). Encoding such a handle anywhere else (a ``ProcessPool`` task, a
/// value sent over a pipe) throws: there is no descriptor passing on those paths.
///
/// `Sendable` only because a `@TaskLocal` value must be: a handoff lives inside the
/// synchronous encoding of one task on the spawning hub's thread, and a use from any other
/// thread traps (checked, not promised).
final class ChildHandoff: @unchecked Sendable {
    /// The thread that encodes the task (the spawning hub's).
    private let owner = pthread_self()
    /// Descriptors for the child, in slot order.
    private(set) var descriptors: [Int32] = []
    /// Run once the spawn is over, with the child's pid if it started (it owns its copies
    /// now), or nil if it did not.
    private var completions: [(Int32?) -> Void] = []
    /// Slots already given, by handle identity: a handle encoded twice uses one slot.
    private var slots: [ObjectIdentifier: Int] = [:]

    @TaskLocal static var current: ChildHandoff?

    /// The descriptors this process inherited as a child (0 unless it is a child worker).
    private static let inherited = Atomic<Int>(0)

    /// Takes over the `count` descriptors inherited at fds 4, 5, ... (first thing in a
    /// child worker): they are marked close-on-exec, so that nothing the child runs holds
    /// them, and only these slots may be decoded.
    static func recordInherited(_ count: Int) {
        let count = max(0, count)
        for fd in 4..<(4 + Int32(clamping: count)) { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        inherited.store(count, ordering: .relaxed)
    }

    /// Records `fd` for the child on behalf of `owner`; `completion` runs after the spawn.
    func slot(for owner: AnyObject, fd: Int32, completion: @escaping (Int32?) -> Void) -> Int {
        checkThread()
        if let slot = slots[ObjectIdentifier(owner)] { return slot }
        descriptors.append(fd)
        completions.append(completion)
        slots[ObjectIdentifier(owner)] = descriptors.count - 1
        return descriptors.count - 1
    }

    func finish(startedPID: Int32?) {
        checkThread()
        let pending = completions
        completions = []
        for completion in pending { completion(startedPID) }
    }

    private func checkThread() {
        if pthread_equal(owner, pthread_self()) == 0 {
            fatalError("a ChildProcess task's handles were encoded off the thread of the hub that starts the child")
        }
    }

    /// The handoff in force, or an error naming `what` could not be sent.
    static func require(_ what: String) throws -> ChildHandoff {
        guard let handoff = current else {
            throw WeaveError(.invalidArgument, "\(what) can only travel inside a task given to ChildProcess (its descriptor is inherited at spawn)")
        }
        return handoff
    }

    /// The descriptor a decoded slot names in this (child) process; a slot the parent did
    /// not hand over is a malformed task, not a guess at some other open descriptor.
    static func inheritedDescriptor(slot: Int, what: String) throws -> Int32 {
        let count = inherited.load(ordering: .relaxed)
        guard slot >= 0, slot < count else {
            throw ProcessError(.malformedFrame, "\(what): descriptor slot \(slot) was not inherited (this process inherited \(count))")
        }
        return Int32(4 + slot)
    }

    /// A connected pair of stream sockets, close-on-exec so that no other child inherits
    /// them by accident (the spawn hands one over explicitly).
    static func socketPair(_ what: String) throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            let code = errno
            throw ProcessError(.spawnFailed, "\(what): socketpair failed: \(String(cString: strerror(code)))")
        }
        return (fds[0], fds[1])
    }
}
