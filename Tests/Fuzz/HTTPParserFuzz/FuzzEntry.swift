// libFuzzer entry point for WeaveHTTP's parser (Sources/WeaveHTTP/Parsing), compiled together
// with those sources by Tests/Fuzz/fuzz-http-parser.sh; not a SwiftPM target. Besides "no
// crash, no memory error" it checks properties: a head parsed whole and fed in two pieces
// gives the same result, and a chunked body decodes the same whatever the piece sizes.
import HTTPTypes

/// The outcome of parsing, comparable across feeding strategies.
private enum Outcome: Equatable {
    case incomplete
    case failed(HTTPParseError.Code)
    case request(HTTPRequest, length: Int, framing: HTTPBodyFraming, keepAlive: Bool)
    case response(HTTPResponse, length: Int, framing: HTTPBodyFraming)
}

private func parseRequest(_ bytes: UnsafeRawBufferPointer, split: Int?) -> Outcome {
    var parser = HTTPRequestParser(maxHeadBytes: 2048, maxFieldCount: 32)
    do {
        if let split, let head = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[..<split])) {
            return .request(head.request, length: head.length, framing: head.framing, keepAlive: head.keepAlive)
        }
        guard let head = try parser.parse(bytes) else { return .incomplete }
        return .request(head.request, length: head.length, framing: head.framing, keepAlive: head.keepAlive)
    } catch {
        return .failed(error.code)
    }
}

private func parseResponse(_ bytes: UnsafeRawBufferPointer, split: Int?, method: HTTPRequest.Method) -> Outcome {
    var parser = HTTPResponseParser(maxHeadBytes: 2048, maxFieldCount: 32)
    do {
        if let split, let head = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[..<split]), requestMethod: method) {
            return .response(head.response, length: head.length, framing: head.framing)
        }
        guard let head = try parser.parse(bytes, requestMethod: method) else { return .incomplete }
        return .response(head.response, length: head.length, framing: head.framing)
    } catch {
        return .failed(error.code)
    }
}

/// Decodes `bytes` as a chunked body fed in pieces of `piece` bytes: the body, the bytes
/// consumed and whether it ended, or the error.
private func decodeChunked(_ bytes: UnsafeRawBufferPointer, piece: Int) -> Result<([UInt8], Int, Bool), HTTPParseError> {
    var decoder = HTTPChunkedDecoder(maxLineBytes: 256, maxTrailerBytes: 512)
    var body: [UInt8] = []
    var start = 0  // first unconsumed byte
    var visible = min(bytes.count, piece)
    do {
        while true {
            let window = UnsafeRawBufferPointer(rebasing: bytes[start..<visible])
            switch try decoder.next(window, maxCount: 1 + piece % 7) {
            case .data(let offset, let count):
                precondition(offset + count <= window.count && count > 0, "data outside the input")
                body += window[offset..<(offset + count)]
                start += offset + count
            case .needMore(let consumed):
                precondition(consumed <= window.count, "consumed more than the input")
                start += consumed
                if visible == bytes.count { return .success((body, start, false)) }
                visible = min(bytes.count, visible + piece)
            case .end(let consumed):
                precondition(consumed <= window.count, "consumed more than the input")
                return .success((body, start + consumed, true))
            }
        }
    } catch {
        return .failure(error)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let split = size > 0 ? Int(data[0]) % (size + 1) : 0

    let whole = parseRequest(bytes, split: nil)
    let pieces = parseRequest(bytes, split: split)
    precondition(whole == pieces, "request: whole \(whole) but split at \(split) \(pieces)")

    let method: HTTPRequest.Method = size > 1 && data[1] & 1 == 1 ? .head : .get
    let response = parseResponse(bytes, split: nil, method: method)
    let responsePieces = parseResponse(bytes, split: split, method: method)
    precondition(response == responsePieces, "response: whole \(response) but split at \(split) \(responsePieces)")

    // Chunked: one piece versus small pieces must agree on everything but error offsets.
    let once = decodeChunked(bytes, piece: max(1, size))
    let small = decodeChunked(bytes, piece: 1 + split % 5)
    switch (once, small) {
    case (.success(let a), .success(let b)):
        precondition(a.0 == b.0 && a.1 == b.1 && a.2 == b.2, "chunked: \(a) versus \(b)")
    case (.failure(let a), .failure(let b)):
        precondition(a.code == b.code, "chunked: \(a) versus \(b)")
    default:
        preconditionFailure("chunked: \(once) versus \(small)")
    }
    return 0
}
