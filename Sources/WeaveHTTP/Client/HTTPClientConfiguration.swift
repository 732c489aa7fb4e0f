import WeaveTLS

extension HTTPClient {
    /// Pool limits, timeouts, redirects and TLS of an ``HTTPClient``; every default is written
    /// next to its property.
    public struct Configuration: Sendable {
        /// The most connections open to one (scheme, host, port) at once, busy or idle; a
        /// request past it waits for one to come free. Default 8.
        public var maxConnectionsPerHost = 8
        /// How long a request waits for a connection to come free before failing with
        /// ``HTTPClientError/Code/poolTimeout``. Default 30 s; nil waits without limit.
        public var poolWaitTimeout: Duration? = .seconds(30)
        /// How long resolving, connecting and (for HTTPS) the TLS handshake may take.
        /// Default 10 s.
        public var connectTimeout: Duration = .seconds(10)
        /// How long one read of the response (head or body) may wait for bytes. Default 30 s.
        public var readTimeout: Duration = .seconds(30)
        /// How long a whole request may take, redirects and body reads included, unless the
        /// call gives its own. Default nil: no limit beyond the others.
        public var totalTimeout: Duration?
        /// How long an idle pooled connection is kept before it is closed rather than
        /// reused (servers close idle connections too). Default 50 s.
        public var idleTimeout: Duration = .seconds(50)
        /// Whether 301, 302, 303, 307 and 308 responses with a `Location` are followed.
        /// Default true.
        public var followRedirects = true
        /// The most redirects one request follows; one more fails with
        /// ``HTTPClientError/Code/tooManyRedirects``. Default 10.
        public var maxRedirects = 10
        /// The longest response head accepted. Default 64 KiB.
        public var maxHeadBytes = 64 * 1024
        /// The TLS client configuration for `https://` URLs: the system's trust store and
        /// full verification by default; give a custom CA with
        /// `.client(trustRoots: .pemFile(path))`.
        public var tls: TLSConfiguration = .client()
        /// The `User-Agent` sent when a request has none; nil sends none. Default "Weave".
        public var userAgent: String? = "Weave"

        public init() {}
    }
}
