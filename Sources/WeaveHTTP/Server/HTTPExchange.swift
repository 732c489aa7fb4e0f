import HTTPTypes

/// What ``HTTPServerRequest`` and ``HTTPResponseWriter`` call on the connection that serves
/// them: one per connection, whatever its stream type, reused for each request (`id` says
/// which, so a request kept past its handler fails instead of touching the next one).
protocol HTTPExchange: AnyObject {
    func readBody(into buffer: UnsafeMutableRawBufferPointer, id: UInt64) throws -> Int
    func readAll(maxBytes: Int, id: UInt64) throws -> [UInt8]
    func writeHead(_ response: HTTPResponse, contentLength: Int?, id: UInt64) throws
    func writeBody(_ bytes: UnsafeRawBufferPointer, id: UInt64) throws
    func finish(id: UInt64) throws
    func flush(id: UInt64) throws
    func isHeadSent(id: UInt64) -> Bool
}
