import Glibc
import WeaveCore

/// The parent's side of a shared object (``ProcessQueue``, ``ManagedDictionary``,
/// ``ManagedList``, ``ProcessLock``): the state lives here, in the parent, and each child
/// that received a handle talks to it over its own link (a socketpair whose other end the
/// child inherited). Requests are served in libuv's read callback, never parking: a
/// request that must wait (a `get` on an empty queue, an `acquire` of a held lock) is kept
/// and answered later, or withdrawn when it times out, is cancelled, or its child dies.
///
/// Request frame: `kind:u8 (1 request, 2 cancel) id:varint op:u8 timeoutMs:varint payload`.
/// Reply frame: `id:varint status:u8 payload` (status: ``ManagerStatus``).
class ManagerHost {
    let label: String
    private(set) var links: [ManagerLink] = []
    /// Frames from a child are small requests; a generous cap still bounds a bad one.
    let maximumFrameSize: Int

    init(label: String, maximumFrameSize: Int) {
        self.label = label
        self.maximumFrameSize = maximumFrameSize
    }

    deinit {
        for link in links { link.close() }
    }

    // MARK: Subclass hooks (hub thread, never park)

    /// Serves `request`: answer it now, or keep it and answer it later.
    func handle(_ request: ManagerRequest) { request.fail(.failed, "\(label): unknown operation \(request.op)") }

    /// A kept request gave up (timeout, cancel, its link closed): forget it.
    func withdraw(_ request: ManagerRequest) {}

    /// A child's link closed (it exited, or closed the handle).
    func linkClosed(_ link: ManagerLink) {}

    // MARK: Links

    /// Opens a link for the child being started: the parent serves one end, the child
    /// inherits the other as a ``ChildHandoff`` slot.
    func attach(_ handoff: ChildHandoff) throws -> Int {
        let hub = try AnyCoroutine.requireCurrent("ProcessQueue/Manager handoff").hub
        let (mine, theirs) = try ChildHandoff.socketPair(label)
        let channel: FrameChannel
        do {
            channel = try FrameChannel.open(fd: mine, hub: hub, maximumFrameSize: maximumFrameSize, label: label)
        } catch {
            Glibc.close(mine)
            Glibc.close(theirs)
            throw error
        }
        let link = ManagerLink(channel: channel)
        links.append(link)
        channel.onFrame = { [unowned self, unowned link] frame in self.received(frame, on: link) }
        channel.onEnd = { [unowned self, unowned link] _ in self.drop(link) }
        try channel.startReading()
        // The child has its own copy once started; if it did not start, closing ours ends
        // the link (end of stream) and it is dropped.
        return handoff.slot(for: link, fd: theirs) { _ in Glibc.close(theirs) }
    }

    private func received(_ frame: UnsafeRawBufferPointer, on link: ManagerLink) {
        do {
            var cursor = WorkerProtocol.Cursor(frame)
            let kind = try cursor.byte()
            let id = try cursor.varint()
            switch kind {
            case ManagerStatus.requestKind:
                let op = try cursor.byte()
                let milliseconds = try cursor.varint()
                let request = ManagerRequest(host: self, link: link, id: id, op: op, payload: [UInt8](cursor.rest))
                link.pending[id] = request
                if milliseconds > 0 {
                    let hub = link.channel.hub
                    request.timer = hub.addTimer(deadline: Hub.deadline(after: .milliseconds(Int64(clamping: milliseconds))), .callback { [weak request] in
                        guard let request, !request.isAnswered else { return }
                        request.timer = nil
                        self.withdraw(request)
                        request.fail(.timedOut, "")
                    })
                }
                handle(request)
            case ManagerStatus.cancelKind:
                guard let request = link.pending[id] else { return }  // already answered
                withdraw(request)
                request.fail(.cancelled, "")
            default:
                throw ProcessError(.malformedFrame, "\(label): unknown request kind \(kind)")
            }
        } catch {
            // A child that sends garbage cannot be trusted: its link is dropped, and its
            // calls fail there with end of stream.
            drop(link)
        }
    }

    private func drop(_ link: ManagerLink) {
        guard let index = links.firstIndex(where: { $0 === link }) else { return }
        links.remove(at: index)
        let pending = link.pending.values
        link.pending.removeAll()
        for request in pending {
            request.isAnswered = true
            if let timer = request.timer { link.channel.hub.removeTimer(timer) }
            withdraw(request)
        }
        link.close()
        linkClosed(link)
    }
}
