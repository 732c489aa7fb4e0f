import WeaveCore

/// The hub a process handle belongs to once it is in use on one (an open pipe end, a link
/// to a shared object). Handles are not `Sendable`, so the compiler keeps them on their
/// thread; this check catches what it cannot see: a handle already in use moved to another
/// thread by a `sending` transfer (a `Task.detached` closure, say) would drive its hub's
/// libuv handles from a foreign thread.
struct HubAffinity {
    /// The owning hub, by identity (nothing is kept alive, nothing dereferenced).
    private(set) var hub: ObjectIdentifier?

    /// Ties the handle to the calling thread's hub (the first time; a later call must come
    /// from the same hub).
    mutating func bind(_ handle: @autoclosure () -> String) {
        if hub == nil { hub = HubAffinity.currentHub } else { check(handle()) }
    }

    /// Traps, naming the handle and both hubs, unless the calling thread runs the hub the
    /// handle belongs to (or the handle belongs to none yet).
    func check(_ handle: @autoclosure () -> String) {
        guard let hub else { return }
        let here = HubAffinity.currentHub
        if here != hub { HubAffinity.usedOffHub(handle(), owner: hub, here: here) }
    }

    private static var currentHub: ObjectIdentifier? { Hub.current.map(ObjectIdentifier.init) }

    private static func usedOffHub(_ handle: String, owner: ObjectIdentifier, here: ObjectIdentifier?) -> Never {
        let this = here.map { "the thread of hub \(name($0))" } ?? "a thread that runs no hub"
        fatalError("\(handle) belongs to hub \(name(owner)), which first used it, but was used from \(this): a process handle is used on its hub's thread only")
    }

    private static func name(_ hub: ObjectIdentifier) -> String { "0x" + String(UInt(bitPattern: hub), radix: 16) }
}
