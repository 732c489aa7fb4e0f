/// The exchanges, queues and bindings declared through a connection with automatic
/// recovery on, in declaration order: what recovery declares again on the new connection.
struct AMQPTopology {
    struct Exchange {
        var name: String
        var type: AMQPExchangeType
        var durable: Bool
        var autoDelete: Bool
        var isInternal: Bool
        var arguments: AMQPFieldTable
    }

    struct Queue {
        /// The name asked for: empty for a name the broker makes up (it changes on recovery).
        var declaredName: String
        /// The name the broker gave.
        var name: String
        var durable: Bool
        var exclusive: Bool
        var autoDelete: Bool
        var arguments: AMQPFieldTable
    }

    struct Binding: Equatable {
        /// An exchange-to-exchange binding, else a queue binding.
        var toExchange: Bool
        var destination: String
        var source: String
        var routingKey: String
        var arguments: AMQPFieldTable
    }

    private(set) var exchanges: [Exchange] = []
    private(set) var queues: [Queue] = []
    private(set) var bindings: [Binding] = []

    mutating func record(_ exchange: Exchange) {
        exchanges.removeAll { $0.name == exchange.name }
        exchanges.append(exchange)
    }

    mutating func record(_ queue: Queue) {
        queues.removeAll { $0.name == queue.name }
        queues.append(queue)
    }

    mutating func record(_ binding: Binding) {
        if !bindings.contains(binding) { bindings.append(binding) }
    }

    mutating func forget(_ binding: Binding) {
        bindings.removeAll { $0 == binding }
    }

    mutating func forgetExchange(_ name: String) {
        exchanges.removeAll { $0.name == name }
        bindings.removeAll { $0.source == name || ($0.toExchange && $0.destination == name) }
    }

    mutating func forgetQueue(_ name: String) {
        queues.removeAll { $0.name == name }
        bindings.removeAll { !$0.toExchange && $0.destination == name }
    }

    /// A server-named queue came back under a new name: its bindings follow it.
    mutating func rename(queue old: String, to new: String) {
        for index in queues.indices where queues[index].name == old { queues[index].name = new }
        for index in bindings.indices where !bindings[index].toExchange && bindings[index].destination == old {
            bindings[index].destination = new
        }
    }
}
