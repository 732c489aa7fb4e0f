extension HTTPServer {
    /// Limits and timeouts of an ``HTTPServer``; every default is written next to its property.
    public struct Configuration: Sendable {
        /// The longest request head (request line, fields, empty line) accepted; a longer one
        /// gets 431 and the connection closes. Default 16 KiB.
        public var maxHeadBytes = 16 * 1024
        /// The most header fields a request may have; more get 431. Default 100.
        public var maxHeaderFields = 100
        /// The largest request body accepted: a `Content-Length` above it gets 413 before the
        /// handler runs; a chunked body that grows past it fails the handler's read with
        /// ``HTTPServerError/Code/bodyTooLarge`` (413 if the handler lets it through). Default 8 MiB.
        public var maxBodyBytes = 8 << 20
        /// Time a client has to send a whole request head, from its first byte (and from the
        /// connection's start for the first request); a slower one gets 408. Default 10 s.
        public var headerTimeout: Duration = .seconds(10)
        /// Time a keep-alive connection may sit between requests before the server closes
        /// it. Default 60 s.
        public var idleTimeout: Duration = .seconds(60)
        /// Time one read of a request body may wait for bytes; past it the handler's read
        /// throws `TimeoutError`. Default 60 s.
        public var bodyReadTimeout: Duration = .seconds(60)
        /// Time one write may wait for a client that does not read; past it the connection
        /// closes. Default 60 s.
        public var writeTimeout: Duration = .seconds(60)
        /// An unread request body up to this size is read and dropped after the handler
        /// returns, so that the connection can carry the next request; a longer one closes
        /// the connection instead. Default 256 KiB.
        public var maxDrainBytes = 256 * 1024
        /// Connections served at once by the servers ``HTTPServer/makeStreamServer(host:port:backlog:reusePort:)``
        /// and ``HTTPServer/makeGroupServer(group:host:port:backlog:)`` make (nil: no limit).
        /// Default nil.
        public var maxConnections: Int?
        /// Response bytes buffered before they are written out; a response shorter than this
        /// goes out in one write. Default 64 KiB.
        public var outputBufferBytes = 64 * 1024
        /// The read buffer's starting size (it grows up to ``maxHeadBytes`` for a long head).
        /// Default 4 KiB.
        public var readBufferBytes = 4 * 1024

        /// The defaults.
        public init() {}
    }
}
