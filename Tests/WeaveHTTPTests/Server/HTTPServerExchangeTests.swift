import HTTPTypes
import InMemoryLogging
import Logging
import Testing
import Weave
import WeaveTestSupport
@testable import WeaveHTTP

@Suite("HTTP server: exchanges", .timeLimit(.minutes(2)))
struct HTTPServerExchangeTests {
    @Test("keep-alive: several requests on one connection, each with Content-Length and Date")
    func keepAlive() async throws {
        try await onHub {
            try withHTTPServer(handler: echoHandler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                for _ in 0..<3 {
                    try client.send("GET / HTTP/1.1\r\nHost: test\r\n\r\n")
                    let response = try #require(try client.readResponse())
                    #expect(response.status == 200)
                    #expect(response.text == "Hello, World!")
                    #expect(response.field("Content-Length") == "13")
                    #expect(response.field("Content-Type") == "text/plain")
                    #expect(response.field("Date")?.hasSuffix(" GMT") == true)
                    #expect(response.field("Date")?.utf8.count == 29)
                    #expect(response.head.keepAlive)
                }
            }
        }
    }

    @Test("pipelined requests split at every byte boundary are answered in order")
    func pipelinedEverySplit() async throws {
        try await onHub {
            let requests = "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
                + "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst"
                + "\r\n"  // an empty line between requests is skipped
                + "PUT /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nsec\r\n4\r\nond!\r\n0\r\nT: v\r\n\r\n"
                + "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
            let bytes = Array(requests.utf8)
            try withHTTPServer(handler: echoHandler) { port, _, _ in
                for split in 1..<bytes.count {
                    let client = try HTTPTestClient(port: port)
                    try client.connection.write(Array(bytes[..<split]))
                    try Coroutine.yield()
                    try client.connection.write(Array(bytes[split...]))
                    let texts = try (0..<4).map { _ in try #require(try client.readResponse()).text }
                    #expect(texts == ["Hello, World!", "first", "second!", "Hello, World!"], "split at \(split)")
                    #expect(try client.isClosedByServer())
                }
            }
        }
    }

    @Test("a response of unknown length is chunked for HTTP/1.1 and unframed for HTTP/1.0 (then closed)")
    func unknownLength() async throws {
        try await onHub {
            let handler: HTTPServer.Handler = { _, response in
                try response.writeHead(HTTPResponse(status: .ok))
                for index in 0..<5 { try response.write("part \(index);") }
                try response.finish()
            }
            try withHTTPServer(handler: handler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
                let chunked = try #require(try client.readResponse())
                #expect(chunked.head.framing == .chunked)
                #expect(chunked.text == "part 0;part 1;part 2;part 3;part 4;")
                try client.send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse()?.text == "part 0;part 1;part 2;part 3;part 4;")

                let old = try HTTPTestClient(port: port)
                try old.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let unframed = try #require(try old.readResponse())
                #expect(unframed.head.framing == .untilClose)
                #expect(unframed.field("Connection") == "close")
                #expect(unframed.text == "part 0;part 1;part 2;part 3;part 4;")
            }
        }
    }

    @Test("HEAD gets the head of the GET response without its body")
    func head() async throws {
        try await onHub {
            try withHTTPServer(handler: echoHandler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
                let response = try #require(try client.readResponse(method: .head))
                #expect(response.status == 200)
                #expect(response.field("Content-Length") == "13")
                #expect(response.body.isEmpty)
                // The connection is still in step: the next response parses.
                try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse()?.text == "Hello, World!")
            }
        }
    }

    @Test("HTTP/1.0 closes after the response unless it asks for keep-alive; Connection: close closes")
    func connectionPersistence() async throws {
        try await onHub {
            try withHTTPServer(handler: echoHandler) { port, _, _ in
                let plain = try HTTPTestClient(port: port)
                try plain.send("GET / HTTP/1.0\r\n\r\n")
                let first = try #require(try plain.readResponse())
                #expect(first.text == "Hello, World!")
                #expect(first.field("Connection") == "close")
                #expect(try plain.isClosedByServer())

                let keepAlive = try HTTPTestClient(port: port)
                try keepAlive.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let kept = try #require(try keepAlive.readResponse())
                #expect(kept.field("Connection") == "keep-alive")
                try keepAlive.send("GET / HTTP/1.0\r\n\r\n")
                #expect(try keepAlive.readResponse()?.text == "Hello, World!")
                #expect(try keepAlive.isClosedByServer())

                let closing = try HTTPTestClient(port: port)
                try closing.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                #expect(try closing.readResponse()?.field("Connection") == "close")
                #expect(try closing.isClosedByServer())
            }
        }
    }

    @Test("Expect: 100-continue is answered when the handler reads the body, and not otherwise")
    func expectContinue() async throws {
        try await onHub {
            let handler: HTTPServer.Handler = { request, response in
                if request.head.path == "/reject" {
                    try response.respond(HTTPResponse(status: .forbidden), body: "no")
                    return
                }
                try echoHandler(request, response)
            }
            try withHTTPServer(handler: handler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
                let interim = try #require(try client.readResponse())
                #expect(interim.status == 100)
                try client.send("data")
                let final = try #require(try client.readResponse())
                #expect(final.status == 200)
                #expect(final.text == "data")

                let rejected = try HTTPTestClient(port: port)
                try rejected.send("POST /reject HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
                let answer = try #require(try rejected.readResponse())
                #expect(answer.status == 403)
                // The body may or may not follow now: the connection cannot be reused.
                #expect(answer.field("Connection") == "close")
                #expect(try rejected.isClosedByServer())
            }
        }
    }

    @Test("a handler error gives 500 before the response started and a closed connection after")
    func handlerErrors() async throws {
        struct Failure: Error {}
        try await onHub {
            let handler: HTTPServer.Handler = { request, response in
                if request.head.path == "/late" {
                    try response.writeHead(HTTPResponse(status: .ok))
                    try response.write("partial")
                    try response.flush()
                }
                throw Failure()
            }
            try withHTTPServer(handler: handler) { port, _, _ in
                let early = try HTTPTestClient(port: port)
                try early.send("GET /early HTTP/1.1\r\nHost: t\r\n\r\n")
                let response = try #require(try early.readResponse())
                #expect(response.status == 500)
                #expect(try early.isClosedByServer())

                let late = try HTTPTestClient(port: port)
                try late.send("GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
                // The chunked body never ends: the client sees the connection close mid-body.
                #expect(throws: HTTPServerError.self) { try late.readResponse() }
            }
        }
    }

    @Test("a handler that writes nothing answers 200 with an empty body; misuse of the writer throws")
    func writerRules() async throws {
        try await onHub {
            let errors = Box<[HTTPServerError.Code]>([])
            let kept = Box<HTTPServerRequest?>(nil)
            nonisolated(unsafe) let shared = (errors, kept)
            let handler: HTTPServer.Handler = { request, response in
                let (errors, kept) = shared
                switch request.head.path {
                case "/twice":
                    try response.writeHead(HTTPResponse(status: .ok), contentLength: 2)
                    do { try response.writeHead(HTTPResponse(status: .ok)) } catch let error as HTTPServerError { errors.value.append(error.code) }
                    do { try response.write("too long") } catch let error as HTTPServerError { errors.value.append(error.code) }
                    try response.write("ok")
                case "/nocontent":
                    try response.writeHead(HTTPResponse(status: .noContent))
                    do { try response.write("x") } catch let error as HTTPServerError { errors.value.append(error.code) }
                case "/short":
                    try response.writeHead(HTTPResponse(status: .ok), contentLength: 10)
                    try response.write("abc")
                case "/keep":
                    kept.value = request
                default:
                    break
                }
            }
            try withHTTPServer(handler: handler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("GET /empty HTTP/1.1\r\nHost: t\r\n\r\n")
                let empty = try #require(try client.readResponse())
                #expect(empty.status == 200 && empty.body.isEmpty && empty.field("Content-Length") == "0")
                try client.send("GET /twice HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse()?.text == "ok")
                try client.send("GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\n")
                let noContent = try #require(try client.readResponse())
                #expect(noContent.status == 204 && noContent.field("Content-Length") == nil)
                try client.send("GET /keep HTTP/1.1\r\nHost: t\r\n\r\n")
                _ = try client.readResponse()
                try client.send("GET /short HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(throws: (any Error).self) { try client.readResponse() }
            }
            #expect(errors.value == [.headAlreadySent, .bodyLengthExceeded, .bodyNotAllowed])
            let stale = try #require(kept.value)
            #expect(throws: HTTPServerError(.requestFinished, "the request was used after its handler returned")) {
                _ = try stale.readAll()
            }
        }
    }

    @Test("each request is logged through the access logger")
    func accessLog() async throws {
        let log = InMemoryLogHandler()
        let logger = Logger(label: "access") { _ in log }
        try await onHub {
            try withHTTPServer(accessLogger: logger, handler: echoHandler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\nPOST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
                _ = try client.readResponse()
                _ = try client.readResponse()
            }
        }
        let messages = log.entries.map { $0.message.description }
        #expect(messages == ["GET / 200", "POST /p 200"])
        #expect(log.entries.last?.metadata["bytes"] == "2")
    }

    @Test("chunked request bodies are read incrementally into small buffers")
    func chunkedRequestBody() async throws {
        try await onHub {
            let handler: HTTPServer.Handler = { request, response in
                var total: [UInt8] = []
                var reads = 0
                try withUnsafeTemporaryAllocation(byteCount: 3, alignment: 1) { buffer in
                    while true {
                        let count = try request.read(into: buffer)
                        if count == 0 { break }
                        reads += 1
                        total += buffer[..<count]
                    }
                }
                #expect(request.contentLength == nil)
                try response.respond(HTTPResponse(status: .ok), body: "\(reads):" + String(decoding: total, as: UTF8.self))
            }
            try withHTTPServer(handler: handler) { port, _, _ in
                let client = try HTTPTestClient(port: port)
                try client.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                #expect(try client.readResponse()?.text == "4:hello world")
            }
        }
    }
}
