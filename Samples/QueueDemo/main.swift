// queue-demo: the classic multiprocessing Queue example (a child puts, the parent gets), then two
// producer processes and a consumer process sharing one ProcessQueue with the parent.
// Run: swift run -c release queue-demo
import Glibc
import Weave

/// The Python original's `[122, None, 'heheheda']`.
struct Item: Codable, Sendable {
    let number: Int
    let note: String?
    let text: String
}

/// The Python original's `f(qq)`: put one item.
struct PutOne: ProcessTask {
    let queue: ProcessQueue<Item>
    func run() throws -> Bool {
        try queue.put(Item(number: 122, note: nil, text: "heheheda"))
        return true
    }
}

/// Puts `count` numbered jobs, pausing a little between them.
struct Produce: ProcessTask {
    let jobs: ProcessQueue<String>
    let name: String
    let count: Int
    func run() throws -> Int {
        for index in 1...count {
            say(line("producer", getpid(), "put  \(name)-\(index)"))
            try jobs.put("\(name)-\(index)")
            try Coroutine.sleep(for: .milliseconds(15))
        }
        return count
    }
}

/// Takes jobs until it gets "stop", reporting each to the parent on `done`.
struct Consume: ProcessTask {
    let jobs: ProcessQueue<String>
    let done: ProcessQueue<String>
    func run() throws -> Int {
        var handled = 0
        while true {
            let job = try jobs.get(timeout: .seconds(10))
            if job == "stop" { return handled }
            say(line("consumer", getpid(), "got  \(job)"))
            try done.put("\(job) by \(getpid())")
            handled += 1
        }
    }
}

func line(_ role: String, _ pid: Int32, _ text: String) -> String {
    let number = String(pid)
    return role + String(repeating: " ", count: max(0, 9 - role.count)) + String(repeating: " ", count: max(0, 7 - number.count)) + number + "  " + text
}

func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

ProcessWorker.main(tasks: [PutOne.self, Produce.self, Consume.self])

try Hub.run {
    // The Python original's example, as it is.
    let queue = ProcessQueue<Item>()
    let putter = try ChildProcess(PutOne(queue: queue))
    let item = try queue.get(timeout: .seconds(10))
    say(line("parent", getpid(), "got  [\(item.number), \(item.note ?? "nil"), \"\(item.text)\"] from child \(putter.pid)"))
    _ = try putter.join(timeout: .seconds(10))
    say("")

    // Producers and a consumer, all separate processes, around queues the parent holds.
    // `jobs` holds at most 2 (Python's Queue(maxsize=2)): the producers wait for the consumer.
    let jobs = ProcessQueue<String>(maxSize: 2)
    let done = ProcessQueue<String>()
    let consumer = try ChildProcess(Consume(jobs: jobs, done: done))
    let producers = try ["apple", "pear"].map { try ChildProcess(Produce(jobs: jobs, name: $0, count: 4)) }
    for _ in 0..<8 { say(line("parent", getpid(), "done \(try done.get(timeout: .seconds(10)))")) }
    for producer in producers { _ = try producer.join(timeout: .seconds(10)) }
    try jobs.put("stop")
    say(line("parent", getpid(), "consumer \(consumer.pid) handled \(try consumer.join(timeout: .seconds(10))) jobs"))
}
