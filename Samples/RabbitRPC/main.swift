// rabbit-rpc: RabbitMQ's RPC lesson in Weave. A server consumes requests from `rpc_queue`
// and publishes each answer (a Fibonacci number) to the request's reply-to queue with its
// correlation id; a client declares an exclusive, broker-named reply queue, sends requests
// from several coroutines at once and matches every reply to its caller by correlation id.
// Needs a broker (Debian: apt-get install rabbitmq-server).
//
//   swift run -c release rabbit-rpc [--url amqp://guest:guest@127.0.0.1:5672/] [--numbers 1,10,20,30]
//   swift run -c release rabbit-rpc --role server        # serve until Ctrl-C
//   swift run -c release rabbit-rpc --role client --numbers 5,6,7
import ArgumentParser
import SampleSupport
import Weave
import WeaveAMQP

struct RabbitRPCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rabbit-rpc",
        abstract: "Remote calls through RabbitMQ: a reply queue and correlation ids.")

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case all, server, client
    }

    @Option(help: "The broker.")
    var url = "amqp://guest:guest@127.0.0.1:5672/"

    @Option(help: "What this process does: all (server and client), server, client.")
    var role = Role.all

    @Option(help: "Comma-separated numbers to ask fib(n) of, each from its own coroutine.")
    var numbers = "1,10,20,30"

    @Option(help: "The request queue.")
    var queue = "rpc_queue"

    func validate() throws {
        for part in numbers.split(separator: ",") {
            guard let number = Int(part), (0...90).contains(number) else {
                throw ValidationError("--numbers: '\(part)' is not a number from 0 to 90")
            }
        }
        do { _ = try AMQPConfiguration(url: url) } catch { throw ValidationError("--url: \(error)") }
    }

    func run() throws {
        try Hub.run {
            switch role {
            case .server:
                try serve(until: nil)
            case .client:
                try callAll()
            case .all:
                let stop = Event()
                let server = try spawn { try serve(until: stop) }
                try callAll()
                stop.set()
                try server.join()
            }
        }
    }

    // MARK: - Server

    /// Answers requests until `stop` is set (for ever when nil).
    func serve(until stop: Event?) throws {
        let connection = try AMQPConnection.connect(url: url)
        defer { connection.close() }
        let channel = try connection.openChannel()
        try channel.queueDeclare(queue)
        try channel.qos(prefetchCount: 1)
        let consumer = try channel.consume(queue: queue)
        print(" [server] awaiting RPC requests on '\(queue)'")
        let stopper = try stop.map { stop in try spawn { try stop.wait(); try consumer.cancel() } }
        for request in consumer {
            let n = Int(request.bodyString) ?? 0
            print(" [server] fib(\(n))")
            if let replyTo = request.properties.replyTo {
                try channel.publish("\(fibonacci(n))", routingKey: replyTo,
                                    properties: AMQPMessageProperties(correlationID: request.properties.correlationID))
            }
            // Acknowledged after the answer went out: a server that dies mid-request leaves it to another.
            try request.ack()
        }
        if let failure = consumer.failure { throw failure }
        _ = try stopper?.join()
    }

    func fibonacci(_ n: Int) -> Int {
        var (a, b) = (0, 1)
        for _ in 0..<n { (a, b) = (b, a + b) }
        return a
    }

    // MARK: - Client

    func callAll() throws {
        let client = try RPCClient(url: url, queue: queue)
        defer { client.close() }
        let calls = try numbers.split(separator: ",").map { part in
            try spawn { () -> (String, String) in (String(part), try client.call(String(part), timeout: .seconds(30))) }
        }
        for call in calls {
            let (n, answer) = try call.join()
            print(" [client] fib(\(n)) = \(answer)")
        }
    }
}

/// Calls the server through one exclusive reply queue: each call gets a correlation id and
/// a future; a coroutine reading the reply queue resolves the future whose id a reply carries.
final class RPCClient {
    let connection: AMQPConnection
    let channel: AMQPChannel
    let requestQueue: String
    let replyQueue: String
    private var pending: [String: Future<String>] = [:]
    private var nextID = 0
    private var dispatcher: Coroutine<Void>?

    init(url: String, queue: String) throws {
        connection = try AMQPConnection.connect(url: url)
        channel = try connection.openChannel()
        requestQueue = queue
        // Named by the broker, deleted with the connection: a client that goes away leaves nothing.
        replyQueue = try channel.queueDeclare("", exclusive: true, autoDelete: true).name
        let replies = try channel.consume(queue: replyQueue, noAck: true)
        dispatcher = try spawn { [unowned self] in
            for reply in replies {
                guard let id = reply.properties.correlationID, let future = pending.removeValue(forKey: id) else {
                    continue  // a late reply to a call that gave up
                }
                try? future.set(reply.bodyString)
            }
        }
    }

    /// Sends `request` and waits for its reply.
    func call(_ request: String, timeout: Duration) throws -> String {
        nextID += 1
        let id = "\(replyQueue)-\(nextID)"
        let future = Future<String>()
        pending[id] = future
        defer { pending[id] = nil }
        try channel.publish(request, routingKey: requestQueue,
                            properties: AMQPMessageProperties(correlationID: id, replyTo: replyQueue))
        return try future.get(timeout: timeout)
    }

    func close() {
        connection.close()
        _ = try? dispatcher?.join()
    }
}

RabbitRPCCommand.main()
