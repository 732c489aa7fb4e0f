import WeaveCore

/// One UDP datagram received: its bytes and who sent it.
public struct Datagram: Sendable {
    /// The payload (possibly empty).
    public let bytes: [UInt8]
    /// The sender's address, to reply to.
    public let sender: SocketAddress
}
