/// A connected, bidirectional byte stream whose calls block the calling coroutine only: a TCP
/// or Unix connection, a process pipe, or TLS over one of them.
///
/// Protocols above the transport (HTTP, Redis, AMQP) are written against `ByteStream`, so the
/// same code runs over plain TCP and over TLS. Make such code generic over the stream
/// (`func serve<S: ByteStream>(_ stream: S)`) rather than taking `any ByteStream`: a
/// specialised call is as cheap as calling ``StreamConnection`` directly.
///
/// The rules are ``StreamConnection``'s: a stream belongs to the hub it was made on; one reader
/// and one writer at a time; ``close()`` wakes both with ``IOError/Code/closed``.
public protocol ByteStream: AnyObject {
    /// Copies up to `buffer.count` bytes into `buffer`, waiting until at least one is there.
    /// Returns 0 once the peer has ended the stream and everything was read.
    func read(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration?) throws -> Int
    /// Writes all of `bytes`, parking while the peer or the kernel is not taking them.
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration?) throws
    /// Ends the sending side once what was written is flushed; reading still works.
    func shutdownWrite(timeout: Duration?) throws
    /// Closes both sides now. Closing twice does nothing.
    func close()
    /// Whether ``close()`` was called on this side.
    var isClosed: Bool { get }
}

extension ByteStream {
    /// Reads with no deadline.
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try read(into: buffer, timeout: nil)
    }

    /// Writes with no deadline.
    @inlinable
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, timeout: nil)
    }

    /// Writes all of `bytes`.
    @inlinable
    public func write(_ bytes: [UInt8], timeout: Duration? = nil) throws {
        try bytes.withUnsafeBytes { try write($0, timeout: timeout) }
    }
}

extension StreamConnection: ByteStream {}
