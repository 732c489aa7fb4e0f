/// A stream whose read-ahead buffer a parser can read in place: ``StreamConnection`` (its
/// own buffer, filled by libuv) or a ``ReadAheadStream`` over any other ``ByteStream`` (TLS).
///
/// Client code generic over it (`func readLoop<R: InPlaceReadable>(_ reader: R)`) parses
/// replies without copying them, over plain TCP and TLS alike.
package protocol InPlaceReadable: AnyObject {
    /// Gives `body` the buffered bytes once at least `count` are there (fewer only at the
    /// end of the stream) and drops as many as it returns; see
    /// ``StreamConnection/withUnsafeReadableBytes(atLeast:timeout:_:)``.
    func withUnsafeReadableBytes(atLeast count: Int, timeout: Duration?, _ body: (UnsafeRawBufferPointer) throws -> Int) throws
}

extension StreamConnection: InPlaceReadable {}
