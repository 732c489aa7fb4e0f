/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0), for a
/// fixture's server to bind.
///
/// - Throws: ``FreePortError`` when no socket can be bound.
public func freeLoopbackPort() throws -> Int {
    let holder = try RefusingLoopbackPort()
    defer { holder.close() }
    return holder.port
}

/// No loopback port could be picked.
public struct FreePortError: Error, CustomStringConvertible {
    public let description: String
}
