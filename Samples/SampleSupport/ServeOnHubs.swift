import Glibc
import Weave

/// Serves on `hubs` hubs, one thread each: a ``StreamServer`` per hub on the same address
/// (`SO_REUSEPORT`, so the kernel spreads connections over them), each made by
/// `make(port, reusePort)` on its own hub. A connection stays on the hub that accepted it.
/// Prints `listening on ADDRESS` once every hub listens, then serves until the process is
/// stopped. With one hub it is plain `Hub.run` (no `SO_REUSEPORT`).
public func serveOnHubs(
    _ hubs: Int, port: Int, _ make: @escaping @Sendable (_ port: Int, _ reusePort: Bool) throws -> StreamServer
) throws {
    if hubs == 1 {
        try Hub.run {
            let server = try make(port, false)
            announce(server, hubs: 1)
            try server.serveForever()
        }
        return
    }
    try HubGroup.run(hubs: hubs) { group in
        // Hub 0 binds first, so that port 0 becomes a real port the others can share.
        let first = try make(port, true)
        let bound = first.localAddress!.port
        for index in 1..<group.count {
            // Waits until that hub listens, so a bind error surfaces here.
            _ = try group.hub(index).run { () throws -> Bool in
                let server = try make(bound, true)
                try spawn(name: "serve") { try server.serveForever() }
                return true
            }
        }
        announce(first, hubs: hubs)
        try first.serveForever()
    }
}

private func announce(_ server: StreamServer, hubs: Int) {
    print("listening on \(server.localAddress!)" + (hubs > 1 ? " (\(hubs) hubs)" : ""))
    fflush(nil)  // stdout is a pipe under the benchmark drivers: make the line visible now
}
