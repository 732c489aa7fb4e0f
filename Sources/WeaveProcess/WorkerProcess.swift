import CLibUV
import Glibc
import WeaveCore

/// One worker process (never `fork`: the parent has threads), re-executing a program that
/// calls ``ProcessWorker/main(tasks:)``, with a socketpair on its fd 3 for frames. Its stdout and
/// stderr are the parent's; its stdin is `/dev/null`; it holds no other descriptor of the
/// parent's (see ``spawnProcess(hub:what:path:arguments:environment:workingDirectory:descriptors:deathSignal:)``).
/// It gets `SIGKILL` when the parent dies.
final class WorkerProcess: HubResource {
    unowned(unsafe) let hub: Hub
    private let child: SpawnedChild
    let pid: Int32
    let channel: FrameChannel
    /// Called once on the hub's thread when the process has exited: (exit status, signal).
    var onExit: (Int64, Int32) -> Void = { _, _ in }
    private(set) var hasExited = false

    /// Starts `executable` in worker mode. Throws ``ProcessError/Code/spawnFailed`` naming
    /// the executable and the reason (`ENOENT`, `EACCES`, `EAGAIN`...).
    ///
    /// From a coroutine only that coroutine waits for the start; from a libuv callback the
    /// hub's thread starts the process itself (see ``spawnProcess(hub:what:path:arguments:environment:workingDirectory:descriptors:deathSignal:)``).
    ///
    /// `inheritedDescriptors` are handed to the child at fds 4, 5, ... in order (the ends of
    /// pipes and manager links that travel inside a ``ChildProcess``'s task); the caller
    /// still owns (and closes) its copies.
    init(hub: Hub, executable: String, environment: [String], maximumFrameSize: Int, label: String, inheritedDescriptors: [Int32] = []) throws {
        self.hub = hub
        let (mine, theirs) = try ChildHandoff.socketPair("cannot start worker \(executable)")
        let child: SpawnedChild
        do {
            child = try spawnProcess(
                hub: hub, what: "worker \(executable)", path: executable, arguments: [executable],
                environment: environment, workingDirectory: nil,
                descriptors: [-1, 1, 2, theirs] + inheritedDescriptors, deathSignal: SIGKILL)
        } catch {
            Glibc.close(mine)
            Glibc.close(theirs)
            throw error
        }
        Glibc.close(theirs)
        do {
            channel = try FrameChannel.open(fd: mine, hub: hub, maximumFrameSize: maximumFrameSize, label: "\(label) \(child.pid)")
        } catch {
            Glibc.close(mine)
            child.killAndReap()
            throw error
        }
        self.child = child
        self.pid = child.pid
        // The exit callback holds this object until the child is reaped; registered until
        // then: at hub shutdown a live worker is killed and reaped, never left a zombie (or
        // an orphan) when the loop closes.
        child.onExit = { status in self.exited(status) }
        hub.register(self)
    }

    func closeForShutdown() { killAndReap() }

    /// Sends `signal` to the process if it is still running.
    func kill(_ signal: Int32 = SIGKILL) {
        guard !hasExited else { return }
        _ = child.send(signal)
    }

    /// Whether the process keeps the loop alive (an idle worker should not).
    func setReferenced(_ referenced: Bool) {
        guard !hasExited else { return }
        child.setReferenced(referenced)
        channel.setReferenced(referenced)
    }

    private func exited(_ status: TerminationStatus) {
        hasExited = true
        hub.unregister(self)
        switch status {
        case .exited(let code): onExit(Int64(code), 0)
        case .signaled(let signal): onExit(0, signal)
        }
        onExit = { _, _ in }
    }

    /// Kills the process and reaps it now (hub shutdown: the loop is about to close, and a
    /// child must not outlive it as a zombie or an orphan).
    func killAndReap() {
        guard !hasExited else { return }
        hub.unregister(self)
        child.killAndReap()
        hasExited = true
        channel.close()
    }
}

/// NUL-terminated C strings for `argv`/`envp`, alive for the duration of a call.
struct CStringArray {
    let strings: [String]
    init(_ strings: [String]) { self.strings = strings }

    func withPointers<R>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers = copies + [nil]
        return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }
}
