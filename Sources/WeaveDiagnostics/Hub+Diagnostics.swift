import CLibUV
import CWeaveContext
import Glibc
import WeaveCore

extension Hub {
    /// Lists every live coroutine of this hub: id, name, state, what it waits on (with
    /// lock holders), age and spawn site.
    ///
    /// Hub thread only (a hub is not `Sendable`); from another thread, use the
    /// `SIGUSR1` dump (``Configuration/dumpsOnSIGUSR1``) or ``HubThread/dump()``.
    /// Descriptions are built now, not when coroutines park: waits stay allocation-free.
    public func dump() -> HubDump {
        let now = uv_now(loop)
        let live = liveCoroutines()
        let snapshots = live.map { coroutine -> CoroutineSnapshot in
            let state: CoroutineSnapshot.State
            switch coroutine.state {
            case .parked: state = .parked
            case .running: state = .running
            case .ready, .finished: state = .ready
            }
            let reason = coroutine.waitReason
            return CoroutineSnapshot(
                id: coroutine.id, name: coroutine.name, state: state,
                waitingOn: state == .parked ? reason.description : nil,
                heldBy: state == .parked ? holderName(of: reason, among: live) : nil,
                age: .milliseconds(now &- coroutine.spawnedAt), spawnSite: coroutine.spawnSite)
        }
        return HubDump(coroutines: snapshots, switchCount: switchCount)
    }

    /// Writes ``dump()`` to standard error. Hub thread only.
    public func printDump() {
        var text = dump().description + "\n"
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
