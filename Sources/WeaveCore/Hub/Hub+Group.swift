import CLibUV
import CWeaveContext

extension Hub {
    /// Runs a member hub of a ``HubGroup`` until the group stops it, then shuts it down as
    /// `Hub.run` does (cancel, unwind, grace period). The hub has no main coroutine: with
    /// none alive it waits for work from other hubs; with some parked and nothing on this
    /// hub able to wake them, it reports the deadlock to the group and cancels them.
    func serveGroup(_ membership: GroupMembership, control: GroupControl) {
        layerState[ObjectIdentifier(GroupMembership.self)] = membership
        defer { layerState[ObjectIdentifier(GroupMembership.self)] = nil }
        while let deadlock = drive(until: { membership.stopRequested }) {
            let live = liveCoroutines()
            if live.contains(where: { !$0.isCancelled }) {
                var report = deadlock
                report.hub = membership.index
                control.report(report)
                cancelAll()
            } else {
                // Idle (or left with coroutines that ignore cancellation): wait for a job
                // from another hub. The held outside work keeps libuv's poll blocking on the
                // cross-thread queue's handle.
                beginOutsideWork()
                uv_run(loop, UV_RUN_ONCE)
                weave_sched_mark_busy(sched)
                endOutsideWork()
            }
        }
        shutDown()
    }
}
