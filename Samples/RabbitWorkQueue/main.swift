// rabbit-work-queue: RabbitMQ's work-queue lesson in Weave. A producer publishes tasks to a
// durable queue as persistent messages; workers take them with prefetch 1 (fair dispatch: a
// busy worker gets no second task until it acknowledges the first) and acknowledge each task
// only once it is done, so a worker that dies leaves its task to another. A task's dots are
// its seconds of work (tenths here). Needs a broker (Debian: apt-get install rabbitmq-server).
//
//   swift run -c release rabbit-work-queue [--url amqp://guest:guest@127.0.0.1:5672/] [--tasks 10] [--workers 2]
//   swift run -c release rabbit-work-queue --role worker     # a worker alone, until Ctrl-C
//   swift run -c release rabbit-work-queue --role producer   # publish the tasks and exit
import ArgumentParser
import SampleSupport
import Weave
import WeaveAMQP

struct RabbitWorkQueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rabbit-work-queue",
        abstract: "A producer and workers sharing a durable RabbitMQ queue with fair dispatch.")

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case all, producer, worker
    }

    @Option(help: "The broker.")
    var url = "amqp://guest:guest@127.0.0.1:5672/"

    @Option(help: "What this process does: all (producer and workers), producer, worker.")
    var role = Role.all

    @Option(help: "Tasks the producer publishes.")
    var tasks = 10

    @Option(help: "Worker coroutines (each its own connection, as separate worker programs would have).")
    var workers = 2

    @Option(help: "The queue's name.")
    var queue = "task_queue"

    func validate() throws {
        try require("--tasks", tasks, in: 0...100_000)
        try require("--workers", workers, in: 1...64)
        do { _ = try AMQPConfiguration(url: url) } catch { throw ValidationError("--url: \(error)") }
    }

    func run() throws {
        try Hub.run {
            switch role {
            case .producer:
                try produce()
            case .worker:
                try work(name: "worker", stopAfter: nil, done: nil)
            case .all:
                let done = Box(0)
                let crew = Group()
                for index in 1...workers {
                    try crew.spawn { try work(name: "worker \(index)", stopAfter: tasks, done: done) }
                }
                try produce()
                try crew.join(raiseError: true)
                print("all \(done.value) tasks done")
            }
        }
    }

    /// Declares the durable queue (every role does: whoever starts first creates it).
    func declare(on channel: AMQPChannel) throws {
        try channel.queueDeclare(queue, durable: true)
    }

    func produce() throws {
        let connection = try AMQPConnection.connect(url: url)
        defer { connection.close() }
        let channel = try connection.openChannel()
        try declare(on: channel)
        // Confirms: the producer knows the broker has every task before it exits.
        try channel.confirmSelect()
        for index in 1...max(tasks, 1) where tasks > 0 {
            let message = "task \(index)" + String(repeating: ".", count: index % 4 + 1)
            try channel.publish(message, routingKey: queue, properties: .persistent, waitForConfirm: false)
            print(" [x] sent '\(message)'")
        }
        try channel.waitForConfirms(timeout: .seconds(30))
    }

    /// Takes tasks one at a time until `stopAfter` tasks are done by all workers together
    /// (for ever when nil).
    func work(name: String, stopAfter: Int?, done: Box<Int>?) throws {
        let connection = try AMQPConnection.connect(url: url)
        defer { connection.close() }
        let channel = try connection.openChannel()
        try declare(on: channel)
        try channel.qos(prefetchCount: 1)
        let consumer = try channel.consume(queue: queue)
        print(" [\(name)] waiting for tasks")
        while true {
            if let stopAfter, let done, done.value >= stopAfter { break }
            // With a stop condition, look up from waiting now and then to check it.
            let next: AMQPDelivery?
            do {
                next = try consumer.next(timeout: stopAfter == nil ? nil : .milliseconds(200))
            } catch is TimeoutError {
                continue
            }
            guard let delivery = next else { break }
            let task = delivery.bodyString
            print(" [\(name)] received '\(task)'")
            let dots = task.filter { $0 == "." }.count
            try Coroutine.sleep(for: .milliseconds(100 * dots))
            try delivery.ack()
            done?.value += 1
            print(" [\(name)] done '\(task)'")
        }
        try consumer.cancel()
    }
}

final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

RabbitWorkQueueCommand.main()
