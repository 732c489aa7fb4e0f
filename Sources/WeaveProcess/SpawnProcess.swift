import Glibc
import WeaveCore

/// Starts `path` with `arguments` as its whole `argv`, `environment` as its `envp` (nil
/// inherits this process's), in `workingDirectory` (nil keeps this process's); the child's
/// descriptor `i` is a copy of `descriptors[i]` (-1: `/dev/null`) and it holds no other
/// (whatever this process has open, close-on-exec or not). `deathSignal` is sent to the
/// child when this process dies.
///
/// From a coroutine, the spawner thread (``ProcessSpawner``) starts the child and only the
/// calling coroutine waits (uninterruptibly: the wait lasts until the child's `exec`; a
/// cancellation or expired scope that arrives meanwhile is kept for the caller's next
/// blocking call). Elsewhere on the hub's thread (a libuv callback replacing a pool worker)
/// the child is started right here, which holds the hub until the child's `exec` (no page
/// tables are copied: typically well under a millisecond) and ties its death signal to the
/// hub's thread rather than to the process.
///
/// Throws ``ProcessError/Code/spawnFailed`` naming `what` and the reason (`ENOENT`,
/// `EACCES`, `EAGAIN`...); a child that failed before its `exec` has been reaped.
func spawnProcess(
    hub: Hub, what: String, path: String, arguments: [String], environment: [String]?, workingDirectory: String?,
    descriptors: [Int32], deathSignal: Int32?
) throws -> SpawnedChild {
    let request = SpawnRequest(path: path, arguments: arguments, environment: environment,
                               workingDirectory: workingDirectory, descriptors: descriptors, deathSignal: deathSignal)
    if let coroutine = AnyCoroutine.current, coroutine.hub === hub {
        start(request, waiting: coroutine, what: what)
    } else {
        request.runHere()
    }
    guard request.error == 0 else {
        throw ProcessError(.spawnFailed, "cannot start \(what): \(request.failureDescription)")
    }
    return try SpawnedChild(hub: hub, pid: request.pid, pidfd: request.pidfd, what: what)
}

/// Whether the spawner thread's answer is in (touched on the hub's thread only).
private final class SpawnWait {
    var isDone = false
}

/// Hands `request` to the spawner thread and parks `coroutine` until the child has exec'd.
private func start(_ request: SpawnRequest, waiting coroutine: AnyCoroutine, what: String) {
    let hub = coroutine.hub
    let wait = SpawnWait()
    // Pending outside work: an idle hub waits for the answer rather than report a deadlock.
    hub.beginOutsideWork()
    let remote = hub.remote
    let bound = HubBound((wait, coroutine))
    let submitted = ProcessSpawner.shared.submit(request) {
        let delivered = remote.send {
            let (wait, coroutine) = bound.value
            wait.isDone = true
            coroutine.hub.endOutsideWork()
            coroutine.hub.makeReady(coroutine)
        }
        if !delivered { request.abandon() }
    }
    guard submitted else {
        hub.endOutsideWork()
        request.runHere()
        return
    }
    var interruption: (any Error)?
    while !wait.isDone {
        if let error = coroutine.parkUninterruptibly(.other("starting \(what)")), interruption == nil {
            interruption = error
        }
    }
    if let interruption { AnyCoroutine.deferInterruption(interruption) }
}
