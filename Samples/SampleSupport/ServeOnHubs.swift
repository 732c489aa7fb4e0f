import Glibc
import Weave

/// Serves on `hubs` hubs, one thread each, through a ``GroupStreamServer`` (a server per
/// hub on the same address; the kernel spreads connections over them). A connection stays
/// on the hub that accepted it. Prints `listening on ADDRESS` once every hub listens, then
/// serves until the process is stopped. With one hub it is plain `Hub.run` (no
/// `SO_REUSEPORT`).
public func serveOnHubs(
    _ hubs: Int, host: String = "127.0.0.1", port: Int, backlog: Int? = nil, maxConnections: Int? = nil,
    handler: @escaping GroupStreamServer.Handler
) throws {
    if hubs == 1 {
        try Hub.run {
            let server = try StreamServer(host: host, port: port, backlog: backlog, maxConnections: maxConnections, handler: handler)
            announce(server.localAddress, hubs: 1)
            try server.serveForever()
        }
        return
    }
    try HubGroup.run(hubs: hubs) { group in
        let server = try GroupStreamServer(group: group, host: host, port: port, backlog: backlog, maxConnections: maxConnections,
                                           handler: handler)
        try server.start()
        announce(server.localAddress, hubs: hubs)
        try server.serveForever()
    }
}

private func announce(_ address: SocketAddress?, hubs: Int) {
    print("listening on \(address!)" + (hubs > 1 ? " (\(hubs) hubs)" : ""))
    fflush(nil)  // stdout is a pipe under the benchmark drivers: make the line visible now
}
