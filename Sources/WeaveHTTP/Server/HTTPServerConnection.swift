import HTTPTypes
import Logging
import WeaveCore
import WeaveIO

/// What the server's shutdown calls on a connection, on the connection's own hub.
protocol HTTPConnectionControl: AnyObject {
    /// Closes the connection if it is waiting for a request with nothing received.
    func closeIfIdle()
}

/// One connection of an ``HTTPServer``: reads request heads, runs the handler for each in
/// turn (pipelined requests are answered in order), frames bodies both ways, and decides
/// when the connection ends. Generic over the stream, so that TLS and TCP share it.
///
/// The read buffer, the output buffer and the parser's field table are allocated once per
/// connection and reused for every request.
final class HTTPServerConnection<S: ByteStream>: HTTPExchange, HTTPConnectionControl {
    private enum Phase { case idle, readingHead, handling }

    /// How the request body is delimited, and how much is left.
    private enum RequestBody { case done, length(remaining: Int), chunked }

    /// How the response body goes out.
    private enum ResponseBody {
        /// `remaining` bytes are still owed.
        case length(remaining: Int)
        case chunked
        /// Unframed, to an HTTP/1.0 client: the connection closes after it.
        case untilClose
        /// A response to HEAD: body bytes are dropped.
        case discarded
        /// 204 and 304: no body may be written.
        case forbidden
    }

    let stream: S
    // The state below is touched only by the connection's coroutine, and no access spans a
    // call that could touch it again; `@exclusivity(unchecked)` drops the run-time checks
    // every class property access would otherwise pay (dozens per request).
    let server: HTTPServer
    let configuration: HTTPServer.Configuration
    @exclusivity(unchecked) private var input: HTTPInputBuffer
    @exclusivity(unchecked) private var output: HTTPOutputBuffer
    @exclusivity(unchecked) private var parser: HTTPRequestParser
    @exclusivity(unchecked) private var chunked = HTTPChunkedDecoder()
    @exclusivity(unchecked) private var dates = HTTPDateCache()
    @exclusivity(unchecked) private var phase = Phase.idle

    // The exchange under way.
    @exclusivity(unchecked) private var activeID: UInt64 = 0
    @exclusivity(unchecked) private var requestCount: UInt64 = 0
    @exclusivity(unchecked) private var isHeadRequest = false
    @exclusivity(unchecked) private var requestVersion = HTTPVersion.http1_1
    @exclusivity(unchecked) private var requestKeepAlive = true
    @exclusivity(unchecked) private var requestBody = RequestBody.done
    @exclusivity(unchecked) private var bodyBytesRead = 0
    @exclusivity(unchecked) private var continuePending = false
    @exclusivity(unchecked) private var headSent = false
    @exclusivity(unchecked) private var finished = false
    @exclusivity(unchecked) private var responseBody = ResponseBody.discarded
    @exclusivity(unchecked) private var status = 0
    @exclusivity(unchecked) private var responseBytes = 0
    @exclusivity(unchecked) private var closeAfterResponse = false

    init(stream: S, server: HTTPServer) {
        self.stream = stream
        self.server = server
        configuration = server.configuration
        input = HTTPInputBuffer(capacity: configuration.readBufferBytes)
        parser = HTTPRequestParser(maxHeadBytes: configuration.maxHeadBytes, maxFieldCount: configuration.maxHeaderFields)
        output = HTTPOutputBuffer(capacity: min(configuration.outputBufferBytes, 4096))
    }

    func closeIfIdle() {
        if phase == .idle { stream.close() }
    }

    // MARK: - The request loop

    /// Serves requests until the connection should end; throws the stream's errors.
    func run() throws {
        var first = true
        while true {
            guard let head = try nextHead(first: first) else {
                try flushOutput()
                return
            }
            first = false
            try serve(head)
            if closeAfterResponse || server.isDraining || !drainBody() {
                try flushOutput()
                return
            }
        }
    }

    /// Runs the handler for one request and completes its response.
    private func serve(_ head: HTTPRequestHead) throws {
        requestCount &+= 1
        activeID = requestCount
        isHeadRequest = head.request.method == .head
        requestVersion = head.version
        requestKeepAlive = head.keepAlive
        headSent = false
        finished = false
        status = 0
        responseBytes = 0
        bodyBytesRead = 0
        closeAfterResponse = false
        let contentLength: Int?
        switch head.framing {
        case .length(let length):
            requestBody = .length(remaining: length)
            contentLength = length
        case .chunked:
            requestBody = .chunked
            chunked = HTTPChunkedDecoder()
            contentLength = nil
        case .none, .untilClose:
            requestBody = .done
            contentLength = 0
        }
        continuePending = head.expectsContinue && contentLength != 0
        defer {
            activeID = 0
            if let accessLogger = server.accessLogger {
                accessLogger.info("\(head.request.method) \(head.request.path ?? head.request.authority ?? "") \(status)",
                                  metadata: ["status": "\(status)", "bytes": "\(responseBytes)", "version": "\(head.version)"])
            }
        }
        if let contentLength, contentLength > configuration.maxBodyBytes {
            // Refused before the handler runs; the body is never read, so the connection ends.
            continuePending = false
            try sendError(413)
            return
        }
        let id = activeID
        do {
            try server.handler(HTTPServerRequest(head: head.request, version: head.version, contentLength: contentLength, exchange: self, id: id),
                               HTTPResponseWriter(exchange: self, id: id))
            if !finished { try finishResponse() }
        } catch let error as HTTPServerError where error.code == .bodyShorterThanDeclared {
            // The client sees the body cut short when the connection closes.
            closeAfterResponse = true
        } catch {
            if error is CancellationError { throw error }
            closeAfterResponse = true
            if headSent {
                // Part of the response may be on the wire: only closing tells the client.
                server.logger.debug("handler failed after the response started; closing", metadata: ["error": "\(error)"])
                return
            }
            let code: Int
            switch error {
            case let error as HTTPServerError where error.code == .bodyTooLarge: code = 413
            case let error as HTTPParseError: code = error.status
            case is TimeoutError: code = 408
            default:
                code = 500
                server.logger.error("handler failed", metadata: ["error": "\(error)", "method": "\(head.request.method)",
                                                                  "path": "\(head.request.path ?? "")"])
            }
            try sendError(code)
        }
    }

    /// Waits for the next request head and parses it; nil when the connection should end
    /// (closed by the client, idle too long, too slow, or malformed: answered first).
    private func nextHead(first: Bool) throws -> HTTPRequestHead? {
        parser.reset()
        // The first request's head is due from the connection's start; later ones from their first byte.
        var deadline: ContinuousClock.Instant? = first ? .now + configuration.headerTimeout : nil
        var received = false
        while true {
            if !input.isEmpty {
                let skipped = HTTPHeadScanner.leadingEmptyLines(input.readable)
                if skipped > 0 {
                    input.consume(skipped)
                    parser.reset()
                }
            }
            if !input.isEmpty {
                phase = .readingHead
                received = true
                do {
                    if let head = try parser.parse(input.readable) {
                        input.consume(head.length)
                        phase = .handling
                        return head
                    }
                    // Incomplete: the rest is due within the header timeout (the clock is
                    // read only now, not for the usual head that arrives in one read).
                    if deadline == nil { deadline = .now + configuration.headerTimeout }
                } catch {
                    resetForError()
                    server.logger.debug("malformed request", metadata: ["error": "\(error)"])
                    try sendError(error.status)
                    return nil
                }
            } else {
                phase = .idle
                if server.isDraining { return nil }
            }
            let timeout: Duration
            if let deadline {
                timeout = deadline - .now
            } else {
                timeout = configuration.idleTimeout
            }
            guard timeout > .zero else {
                if received {
                    resetForError()
                    try sendError(408)
                }
                return nil
            }
            do {
                if try fill(timeout: timeout) == 0 { return nil }
            } catch is TimeoutError {
                if received {
                    resetForError()
                    try sendError(408)
                }
                return nil
            } catch let error as IOError where error.code == .closed && phase == .idle {
                return nil  // closed by the server's shutdown while idle
            }
        }
    }

    private func resetForError() {
        activeID = 0
        isHeadRequest = false
        requestVersion = .http1_1
        headSent = false
        finished = false
        continuePending = false
    }

    /// Reads what is left of the request body and drops it, so that the connection can
    /// carry the next request; false when it should close instead (too much left, or an error).
    private func drainBody() -> Bool {
        switch requestBody {
        case .done:
            return true
        case .length(let remaining) where remaining > configuration.maxDrainBytes:
            return false
        default:
            break
        }
        return withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 16) { scratch in
            var drained = 0
            do {
                while drained <= configuration.maxDrainBytes {
                    let count = try readBodyBytes(into: scratch)
                    if count == 0 { return true }
                    drained += count
                }
            } catch {
                return false
            }
            return false
        }
    }

    // MARK: - Reading

    /// Reads into the input buffer, flushing pending output first (the client may wait for
    /// it before sending more). Returns 0 at the end of the stream.
    private func fill(timeout: Duration?) throws -> Int {
        if !output.isEmpty { try flushOutput() }
        let space = input.tail(minimum: 1024)
        let count = try stream.read(into: space, timeout: timeout)
        input.commit(count)
        return count
    }

    private func check(_ id: UInt64) throws {
        guard id == activeID, id != 0 else {
            throw HTTPServerError(.requestFinished, "the request was used after its handler returned")
        }
    }

    func readBody(into buffer: UnsafeMutableRawBufferPointer, id: UInt64) throws -> Int {
        try check(id)
        return try readBodyBytes(into: buffer)
    }

    private func readBodyBytes(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if continuePending {
            continuePending = false
            if !headSent {
                output.append("HTTP/1.1 100 Continue\r\n\r\n" as StaticString)
                try flushOutput()
            }
        }
        switch requestBody {
        case .done:
            return 0
        case .length(let remaining):
            let count: Int
            if input.isEmpty {
                if !output.isEmpty { try flushOutput() }
                // Straight into the caller's buffer: no copy through the read buffer.
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[..<min(buffer.count, remaining)])
                count = try stream.read(into: target, timeout: configuration.bodyReadTimeout)
                if count == 0 { throw unexpectedEnd() }
            } else {
                count = min(input.count, remaining, buffer.count)
                buffer.baseAddress.unsafelyUnwrapped.copyMemory(from: input.readable.baseAddress.unsafelyUnwrapped, byteCount: count)
                input.consume(count)
            }
            requestBody = remaining == count ? .done : .length(remaining: remaining - count)
            bodyBytesRead += count
            return count
        case .chunked:
            while true {
                let step: HTTPChunkedDecoder.Step
                do {
                    step = try chunked.next(input.readable, maxCount: buffer.count)
                } catch {
                    requestBody = .done
                    closeAfterResponse = true
                    throw error
                }
                switch step {
                case .data(let offset, let count):
                    guard bodyBytesRead + count <= configuration.maxBodyBytes else {
                        requestBody = .done
                        closeAfterResponse = true
                        throw HTTPServerError(.bodyTooLarge, "the chunked request body is larger than \(configuration.maxBodyBytes) bytes")
                    }
                    buffer.baseAddress.unsafelyUnwrapped.copyMemory(from: input.readable.baseAddress.unsafelyUnwrapped + offset, byteCount: count)
                    input.consume(offset + count)
                    bodyBytesRead += count
                    return count
                case .needMore(let consumed):
                    input.consume(consumed)
                    if try fill(timeout: configuration.bodyReadTimeout) == 0 { throw unexpectedEnd() }
                case .end(let consumed):
                    input.consume(consumed)
                    requestBody = .done
                    return 0
                }
            }
        }
    }

    private func unexpectedEnd() -> HTTPServerError {
        requestBody = .done
        closeAfterResponse = true
        return HTTPServerError(.unexpectedEnd, "the client closed the connection in the middle of the request body")
    }

    func readAll(maxBytes: Int, id: UInt64) throws -> [UInt8] {
        try check(id)
        switch requestBody {
        case .done:
            return []
        case .length(let remaining):
            guard remaining <= maxBytes else {
                throw HTTPServerError(.bodyTooLarge, "the request body of \(remaining) bytes is larger than \(maxBytes)")
            }
            return try [UInt8](unsafeUninitializedCapacity: remaining) { buffer, initialized in
                while initialized < remaining {
                    let count = try readBodyBytes(into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[initialized...]))
                    if count == 0 { break }
                    initialized += count
                }
            }
        case .chunked:
            var body: [UInt8] = []
            try withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 16) { scratch in
                while true {
                    let count = try readBodyBytes(into: scratch)
                    if count == 0 { return }
                    guard body.count + count <= maxBytes else {
                        throw HTTPServerError(.bodyTooLarge, "the request body is larger than \(maxBytes) bytes")
                    }
                    body.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<count]))
                }
            }
            return body
        }
    }

    // MARK: - Writing

    func isHeadSent(id: UInt64) -> Bool { id == activeID && headSent }

    func writeHead(_ response: HTTPResponse, contentLength: Int?, id: UInt64) throws {
        try check(id)
        guard !headSent else { throw HTTPServerError(.headAlreadySent, "writeHead was called twice for one response") }
        // `status` is parsed from a pseudo-header field on every read: read it once.
        let status = response.status
        guard status.code >= 200 else {
            throw HTTPServerError(.informationalStatus, "writeHead got \(status.code); 1xx responses are sent by the server")
        }
        try startResponse(response, status: status, contentLength: contentLength)
    }

    /// Buffers the head and sets up the body's framing.
    private func startResponse(_ response: HTTPResponse, status: HTTPResponse.Status, contentLength: Int?) throws {
        precondition(contentLength.map { $0 >= 0 } ?? true, "a negative Content-Length")
        headSent = true
        let code = status.code
        self.status = code
        if continuePending {
            // The client waits for 100 Continue, which will not come now: it may or may not
            // send the body, so the connection cannot be reused.
            continuePending = false
            closeAfterResponse = true
        }
        if !requestKeepAlive || server.isDraining { closeAfterResponse = true }
        if case .length(let remaining) = requestBody, remaining > configuration.maxDrainBytes { closeAfterResponse = true }

        // One access to the output buffer per part (a class property's accesses are checked
        // at run time, and a head is dozens of appends).
        if Self.appendHead(response, status: status, to: &output, dates: &dates) { closeAfterResponse = true }
        let framing: FramingField
        if code == 204 || code == 304 {
            responseBody = .forbidden
            framing = code == 304 && contentLength != nil ? .length(contentLength!) : .none
        } else if isHeadRequest {
            responseBody = .discarded
            framing = contentLength.map { .length($0) } ?? .none
        } else if let contentLength {
            responseBody = .length(remaining: contentLength)
            framing = .length(contentLength)
        } else if requestVersion == .http1_1 {
            responseBody = .chunked
            framing = .chunked
        } else {
            responseBody = .untilClose
            closeAfterResponse = true
            framing = .none
        }
        let connection: ConnectionField = closeAfterResponse ? .close : requestVersion == .http1_0 ? .keepAlive : .none
        Self.appendFraming(framing, connection: connection, to: &output)
        if output.count >= configuration.outputBufferBytes { try flushOutput() }
    }

    private enum FramingField { case none, length(Int), chunked }
    private enum ConnectionField { case none, close, keepAlive }

    /// Appends the status line, the response's fields (less those the server sets) and
    /// `Date`; returns whether the fields asked for `Connection: close`.
    private static func appendHead(_ response: HTTPResponse, status: HTTPResponse.Status, to output: inout HTTPOutputBuffer, dates: inout HTTPDateCache) -> Bool {
        let code = status.code
        output.append("HTTP/1.1 " as StaticString)
        output.append(0x30 + UInt8(code / 100 % 10))
        output.append(0x30 + UInt8(code / 10 % 10))
        output.append(0x30 + UInt8(code % 10))
        output.append(HTTPBytes.space)
        let reason = status.reasonPhrase
        if reason.isEmpty {
            output.append(HTTPServer.reasonPhrase(code))
        } else {
            output.append(reason)
        }
        output.append("\r\n" as StaticString)
        var sawDate = false
        var close = false
        for field in response.headerFields {
            let name = field.name
            // The names the server sets itself, told apart by length before comparing.
            switch name.canonicalName.utf8.count {
            case 4:
                if name == .date { sawDate = true }
            case 10:
                if name == .connection {
                    if field.value.lowercased().contains("close") { close = true }
                    continue
                }
            case 14:
                if name == .contentLength { continue }
            case 17:
                if name == .transferEncoding { continue }
            default:
                break
            }
            output.append(name.rawName)
            output.append(": " as StaticString)
            field.withUnsafeBytesOfValue { output.append(contentsOf: UnsafeRawBufferPointer($0)) }
            output.append("\r\n" as StaticString)
        }
        if !sawDate {
            output.append("Date: " as StaticString)
            dates.append(to: &output)
            output.append("\r\n" as StaticString)
        }
        return close
    }

    /// Appends the framing and connection fields and the empty line that ends the head.
    private static func appendFraming(_ framing: FramingField, connection: ConnectionField, to output: inout HTTPOutputBuffer) {
        switch framing {
        case .none:
            break
        case .length(let length):
            output.append("Content-Length: " as StaticString)
            output.appendDecimal(length)
            output.append("\r\n" as StaticString)
        case .chunked:
            output.append("Transfer-Encoding: chunked\r\n" as StaticString)
        }
        switch connection {
        case .none: break
        case .close: output.append("Connection: close\r\n" as StaticString)
        case .keepAlive: output.append("Connection: keep-alive\r\n" as StaticString)
        }
        output.append("\r\n" as StaticString)
    }

    func writeBody(_ bytes: UnsafeRawBufferPointer, id: UInt64) throws {
        try check(id)
        if !headSent { try startResponse(HTTPResponse(status: .ok), status: .ok, contentLength: nil) }
        guard !finished else { throw HTTPServerError(.requestFinished, "a body write after finish()") }
        try appendBody(bytes)
    }

    private func appendBody(_ bytes: UnsafeRawBufferPointer) throws {
        switch responseBody {
        case .discarded:
            return
        case .forbidden:
            if bytes.isEmpty { return }
            throw HTTPServerError(.bodyNotAllowed, "a \(status) response has no body")
        case .length(let remaining):
            guard bytes.count <= remaining else {
                throw HTTPServerError(.bodyLengthExceeded, "\(bytes.count) body bytes written with \(remaining) left of the declared length")
            }
            responseBody = .length(remaining: remaining - bytes.count)
            try appendOutput(bytes)
        case .chunked:
            if bytes.isEmpty { return }
            HTTPChunkedEncoder.appendChunkHeader(bytes.count, to: &output)
            try appendOutput(bytes)
            HTTPChunkedEncoder.appendChunkEnd(to: &output)
        case .untilClose:
            try appendOutput(bytes)
        }
        responseBytes += bytes.count
    }

    /// Buffers `bytes`, or writes them straight out after what is buffered when they would
    /// overflow the buffer (memory stays bounded for any response size).
    private func appendOutput(_ bytes: UnsafeRawBufferPointer) throws {
        if output.count + bytes.count <= configuration.outputBufferBytes {
            output.append(contentsOf: bytes)
            return
        }
        try flushOutput()
        if bytes.count >= configuration.outputBufferBytes / 2 {
            try stream.write(bytes, timeout: configuration.writeTimeout)
        } else {
            output.append(contentsOf: bytes)
        }
    }

    func flush(id: UInt64) throws {
        try check(id)
        try flushOutput()
    }

    private func flushOutput() throws {
        guard !output.isEmpty else { return }
        try stream.write(output.bytes, timeout: configuration.writeTimeout)
        output.removeAll()
    }

    func finish(id: UInt64) throws {
        try check(id)
        try finishResponse()
    }

    private func finishResponse() throws {
        if finished { return }
        if !headSent { try startResponse(HTTPResponse(status: .ok), status: .ok, contentLength: 0) }
        finished = true
        switch responseBody {
        case .length(let remaining) where remaining > 0:
            closeAfterResponse = true
            try flushOutput()
            throw HTTPServerError(.bodyShorterThanDeclared, "the response ended \(remaining) bytes short of its Content-Length")
        case .chunked:
            HTTPChunkedEncoder.appendLastChunk(to: &output)
        default:
            break
        }
        // Out now, even with a pipelined request buffered: its handler may take long, and
        // this response must not wait for it.
        try flushOutput()
    }

    /// Answers with `code` and a short text body, and marks the connection to close.
    private func sendError(_ code: Int) throws {
        closeAfterResponse = true
        let text = HTTPServer.reasonPhrase(code)
        let errorStatus = HTTPResponse.Status(code: code)
        var response = HTTPResponse(status: errorStatus)
        response.headerFields[.contentType] = "text/plain; charset=utf-8"
        try startResponse(response, status: errorStatus, contentLength: text.utf8CodeUnitCount + 1)
        finished = true
        if !isHeadRequest {
            output.append(text)
            output.append(HTTPBytes.lf)
        }
        try flushOutput()
    }
}
