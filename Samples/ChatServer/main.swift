// chat-server: line-based chat. Every line a client sends goes to everyone; `/nick NAME`
// renames, `/quit` leaves. Each client has a bounded outgoing Queue drained by its own
// writer coroutine, so a slow client never stalls the others: a client whose queue is full
// (it stopped reading) is disconnected, and told why if it ever reads again.
// Run: swift run -c release chat-server --host 127.0.0.1 --port 9002  (then: nc 127.0.0.1 9002)
import ArgumentParser
import Glibc
import SampleSupport
import Weave

struct ChatServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-server",
        abstract: "Line-based chat: every line a client sends goes to everyone; /nick NAME renames, /quit leaves.")

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    var port = 9002

    @Option(help: "Lines that may wait for one client before it counts as stuck and is disconnected.")
    var queue = 256

    func validate() throws {
        try requirePort(port)
        try require("--queue", queue, atLeast: 1)
    }

    func run() throws {
        try Hub.run { try serve(host: host, port: port, queueLimit: queue) }
    }
}

/// One connected client: its name and the lines waiting to be written to it.
final class Client {
    let connection: TCPConnection
    let outgoing: Queue<String>
    var nick: String

    init(connection: TCPConnection, nick: String, queueLimit: Int) {
        self.connection = connection
        self.nick = nick
        self.outgoing = Queue(maxSize: queueLimit, label: "to \(nick)")
    }
}

/// Everyone connected (one hub: no locking needed).
final class Room {
    private var clients: [ObjectIdentifier: Client] = [:]

    func join(_ client: Client) { clients[ObjectIdentifier(client)] = client }
    func leave(_ client: Client) { clients[ObjectIdentifier(client)] = nil }
    var count: Int { clients.count }

    /// Queues `line` for every client but `sender`; never waits. A client whose queue is
    /// full is disconnected rather than allowed to hold everyone up.
    func broadcast(_ line: String, from sender: Client? = nil) {
        for client in clients.values where client !== sender {
            if (try? client.outgoing.tryPut(line)) != true {
                leave(client)
                client.outgoing.shutdown(immediate: true)
                client.connection.close()  // wakes its reader and writer, which then end
            }
        }
    }
}

/// Serves the room until the process is stopped.
func serve(host: String, port: Int, queueLimit: Int) throws {
    let room = Room()
    var nextGuest = 1
    let server = try StreamServer(host: host, port: port) { connection in
        let client = Client(connection: connection, nick: "guest\(nextGuest)", queueLimit: queueLimit)
        nextGuest += 1
        // The writer: drains this client's queue; blocking on a slow socket stalls only it.
        let writer = try spawn(name: "writer \(client.nick)") {
            while true {
                let line = try client.outgoing.get()
                try connection.write(line + "\n")
            }
        }
        defer {
            room.leave(client)
            writer.cancel()
            room.broadcast("* \(client.nick) left", from: client)
        }
        room.join(client)
        _ = try client.outgoing.tryPut("* welcome, \(client.nick): /nick NAME to rename, /quit to leave (\(room.count) here)")
        room.broadcast("* \(client.nick) joined", from: client)
        while let line = try connection.readLine(maxLength: 4096) {
            if line == "/quit" { break }
            if line.hasPrefix("/nick ") {
                let name = line.dropFirst(6).trimmingCharacters(in: " \t")
                guard !name.isEmpty, name.count <= 32 else {
                    _ = try? client.outgoing.tryPut("* a name is 1 to 32 characters")
                    continue
                }
                room.broadcast("* \(client.nick) is now \(name)", from: client)
                client.nick = name
                continue
            }
            room.broadcast("<\(client.nick)> \(line)", from: client)
            // A flood of buffered lines must not fill everyone's queue before any writer
            // runs: let the writers drain once per line (only a client that stopped
            // reading then fills up).
            try Coroutine.yield()
        }
        // Leaving on its own: the writer sends what is queued (the farewell included), then
        // ends at the shutdown; a client that stopped reading gets a second at most.
        _ = try? client.outgoing.tryPut("* bye")
        client.outgoing.shutdown()
        try? writer.wait(timeout: .seconds(1))
    }
    print("listening on \(server.localAddress!)")
    fflush(nil)
    try server.serveForever()
}

extension Substring {
    /// Drops leading and trailing characters in `set` (no Foundation).
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

ChatServerCommand.main()
