// tls-echo: a TLS echo server on one hub, one coroutine per connection (the Weave side of
// Benchmarks/compare-tls.sh).
// Run: swift run -c release tls-echo --port 9443 --cert cert.pem --key key.pem [--alpn echo]
import ArgumentParser
import Glibc
import SampleSupport
import Weave
import WeaveTLS

struct TLSEchoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls-echo",
        abstract: "Echoes every byte back over TLS, one coroutine per connection, on one hub.")

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 9443

    @Option(help: "The certificate chain (PEM, leaf first).")
    var cert: String

    @Option(help: "The certificate's private key (PEM).")
    var key: String

    @Option(help: "ALPN protocols to accept, comma-separated.")
    var alpn = ""

    func validate() throws {
        try requirePort(port)
    }

    func run() throws {
        // One context for every connection: the certificate and key are parsed once.
        let context = try TLSContext(configuration: .server(
            certificateChain: .file(cert), privateKey: .file(key),
            applicationProtocols: alpn.split(separator: ",").map(String.init)))
        let (host, port) = (self.host, self.port)
        try Hub.run {
            let server = try StreamServer(host: host, port: port, tls: context) { connection in
                // One buffer per connection, reused for every message.
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
                defer { buffer.deallocate() }
                while true {
                    let count = try connection.read(into: buffer)
                    if count == 0 { return }
                    try connection.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                }
            }
            print("tls-echo listening on \(server.localAddress!)")
            fflush(nil)  // for whoever waits for this line through a pipe or a file
            try server.serveForever()
        }
    }
}

TLSEchoCommand.main()
