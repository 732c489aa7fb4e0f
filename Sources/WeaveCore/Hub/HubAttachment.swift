import Synchronization

/// Something a higher layer runs beside one hub for the hub's lifetime (the diagnostics
/// layer's blocked-loop watchdog and `SIGUSR1` dump): made by a ``HubHooks`` entry when the
/// hub starts, told when it closes.
///
/// This is how the hub serves layers above it without naming them: the core calls these
/// hooks and never imports a higher layer.
package protocol HubAttachment: AnyObject {
    /// Called on the hub's thread once every coroutine has finished, before the hub closes
    /// its handles and loop and frees its scheduler: after this returns, nothing may touch
    /// the hub's scheduler or loop.
    func hubClosing(_ hub: Hub)
}

/// The process-wide list of what starts beside every hub.
///
/// A layer installs its entry once, before hubs run (the diagnostics layer does it when
/// the image that links it loads, so `import Weave` users call nothing); every hub created
/// afterwards calls each entry on its own thread at the end of its initializer.
package enum HubHooks {
    /// Makes what one hub needs, given the new hub (on its thread, before any coroutine
    /// exists), or returns nil when the hub's configuration asks for nothing.
    package typealias Start = @Sendable (Hub) -> (any HubAttachment)?

    private static let entries = Mutex<[(name: String, start: Start)]>([])

    /// Adds `start` for every hub created from now on. A second install under the same
    /// `name` is ignored, so installing is idempotent.
    package static func install(_ name: String, _ start: @escaping Start) {
        entries.withLock { entries in
            if !entries.contains(where: { $0.name == name }) { entries.append((name, start)) }
        }
    }

    /// The names installed so far, in order.
    package static var installed: [String] { entries.withLock { $0.map(\.name) } }

    static var starts: [Start] { entries.withLock { $0.map(\.start) } }
}

extension Hub {
    /// Runs every installed ``HubHooks`` entry for this hub (end of `init`).
    func startAttachments() {
        for start in HubHooks.starts {
            if let attachment = start(self) { attachments.append(attachment) }
        }
    }

    /// Tells every attachment, newest first, that the hub is closing (start of `close`).
    func closeAttachments() {
        while let attachment = attachments.popLast() { attachment.hubClosing(self) }
    }
}
