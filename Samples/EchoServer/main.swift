// echo-server: echoes every byte back on the same connection, one coroutine per connection.
// Run: swift run -c release echo-server --host 127.0.0.1 --port 9000 [--hubs N]
import ArgumentParser
import Glibc
import SampleSupport
import Weave

struct EchoServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "Echoes every byte back on the same connection, one coroutine per connection.")

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 9000

    @Option(help: "Hubs (threads) serving, each with its own listener on the port; the default is the number of cores this process may use.")
    var hubs = HubGroup.availableCores

    func validate() throws {
        try requirePort(port)
        try require("--hubs", hubs, atLeast: 1)
    }

    func run() throws {
        let host = self.host
        try serveOnHubs(hubs, host: host, port: port) { connection in
            // One buffer per connection, reused for every message: no allocation per echo.
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = try connection.read(into: buffer)
                if count == 0 { return }
                try connection.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        }
    }
}

EchoServerCommand.main()
