import Glibc
import WeaveCore

/// Where a shared handle's state is: hosted here (the parent), or behind a link inherited
/// from the parent (a child), opened on first use.
final class ManagerEndpoint {
    enum State {
        case host(ManagerHost)
        case inherited(Int32)
        case client(ManagerClient)
    }

    var state: State
    let label: String
    let maximumFrameSize: Int
    /// Set once the handle has a link on a hub (the owner's first child, a child's first
    /// call): from then on every call must come from that hub's thread.
    private var affinity = HubAffinity()

    init(host: ManagerHost) {
        state = .host(host)
        label = host.label
        maximumFrameSize = host.maximumFrameSize
    }

    /// The child side, from a handle's decoder.
    init(from decoder: any Decoder, label: String) throws {
        let container = try decoder.singleValueContainer()
        let slot = try container.decode(Int.self)
        self.label = label
        maximumFrameSize = ProcessPool.defaultMaximumFrameSize
        state = .inherited(try ChildHandoff.inheritedDescriptor(slot: slot, what: label))
    }

    deinit {
        if case .inherited(let fd) = state { Glibc.close(fd) }
    }

    /// The hosted state (in the owning process; a handle there never holds a client).
    var hostObject: ManagerHost? {
        if case .host(let host) = state { return host }
        return nil
    }

    /// The client to call through, or nil when the state is hosted here.
    func client() throws -> ManagerClient? {
        switch state {
        case .host:
            affinity.check(label)
            return nil
        case .client(let client):
            affinity.check(label)
            return client
        case .inherited(let fd):
            let client = try ManagerClient(fd: fd, label: label, maximumFrameSize: maximumFrameSize)
            affinity.bind(label)
            state = .client(client)
            return client
        }
    }

    /// Hands a link to the child being started; only the parent's handle can be sent.
    func encode(to encoder: any Encoder) throws {
        guard case .host(let host) = state else {
            throw WeaveError(.invalidArgument, "\(label) can only be sent to a child by the process that created it")
        }
        let slot = try host.attach(try ChildHandoff.require(label))
        affinity.bind(label)
        var container = encoder.singleValueContainer()
        try container.encode(slot)
    }
}
