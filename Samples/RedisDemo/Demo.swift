import Weave
import WeaveRedis

/// The lesson's parts, run in order against one server; each prints its results and adds a
/// line to the summary.
final class Demo {
    let redis: RedisConnection
    let server: RedisConfiguration
    let coroutines: Int
    let workers: Int
    let jobs: Int
    private var summary: [(part: String, result: String, elapsed: Duration)] = []
    private let prefix = "redis-demo:"

    init(redis: RedisConnection, server: RedisConfiguration, coroutines: Int, workers: Int, jobs: Int) {
        self.redis = redis
        self.server = server
        self.coroutines = coroutines
        self.workers = workers
        self.jobs = jobs
    }

    func run() throws {
        try part("strings") { try strings() }
        try part("counters") { try counters() }
        try part("hash") { try hash() }
        try part("work queue") { try workQueue() }
        try part("pub/sub") { try pubSub() }
        try part("transaction") { try transaction() }
    }

    func printSummary() {
        print("\nsummary")
        for line in summary {
            print("  \(pad(line.part, 12)) \(pad(line.result, 52)) \(milliseconds(line.elapsed))")
        }
    }

    /// Deletes every key the demo made.
    func cleanUp() throws {
        guard case .array(let keys) = try redis.send(["KEYS", prefix + "*"]) else { return }
        let names = keys.compactMap(\.string)
        if !names.isEmpty { try redis.delete(names) }
    }

    private func part(_ name: String, _ body: () throws -> String) throws {
        print("\n== \(name)")
        let start = ContinuousClock.now
        let result = try body()
        summary.append((name, result, ContinuousClock.now - start))
    }

    // MARK: - The parts

    /// SET and GET, SET NX on a key that exists, and a key that expires.
    private func strings() throws -> String {
        let greeting = prefix + "greeting"
        try redis.set(greeting, "hello from a coroutine")
        show("GET \(greeting)", try redis.get(greeting) ?? "(nil)")
        let again = try redis.set(greeting, "second writer", condition: .ifNotExists)
        show("SET NX on an existing key", again ? "set" : "not set (the key exists)")
        let session = prefix + "session"
        try redis.set(session, "token-42", expiration: .after(.seconds(2)))
        show("TTL \(session)", "\(try redis.timeToLive(session))")
        try Coroutine.sleep(for: .milliseconds(2100))
        let expired = try redis.get(session)
        show("GET \(session) after 2.1 s", expired ?? "(nil: expired)")
        return expired == nil ? "set, NX refused, expiry seen" : "the session key did not expire"
    }

    /// Many coroutines INCR one counter over the one connection: their commands are
    /// pipelined automatically (sent together, replies matched in order).
    private func counters() throws -> String {
        let counter = prefix + "hits"
        let redis = redis
        let perCoroutine = 200
        let mostInFlight = Box(0)
        let start = ContinuousClock.now
        let group = Group()
        for _ in 0..<coroutines {
            try group.spawn {
                for _ in 0..<perCoroutine {
                    mostInFlight.value = max(mostInFlight.value, redis.pendingReplyCount)
                    try redis.increment(counter)
                }
            }
        }
        try group.join(raiseError: true)
        let elapsed = ContinuousClock.now - start
        let total = Int(try redis.get(counter) ?? "0") ?? 0
        let rate = Int(Double(total) / seconds(elapsed))
        show("\(coroutines) coroutines x \(perCoroutine) INCR", "\(counter) = \(total)")
        show("rate", "\(rate) INCR/s on one connection")
        show("most replies in flight", "\(mostInFlight.value) (auto-pipelining)")
        guard total == coroutines * perCoroutine else { throw DemoError("counter is \(total), expected \(coroutines * perCoroutine)") }
        return "\(total) INCRs, \(rate)/s, up to \(mostInFlight.value) in flight"
    }

    /// A user's record as a hash: HSET several fields, HINCRBY one, HGETALL.
    private func hash() throws -> String {
        let user = prefix + "user:1"
        try redis.hset(user, fields: [("name", "Ada"), ("language", "Swift"), ("visits", "0")])
        for _ in 0..<3 { try redis.send(["HINCRBY", user, "visits", "1"]) }
        let fields = try redis.hgetall(user)
        for field in fields.keys.sorted() { show("HGET \(user) \(field)", fields[field]!) }
        return "\(fields.count) fields, visits = \(fields["visits"] ?? "?")"
    }

    /// A list as a work queue: a producer RPUSHes jobs, worker coroutines take them with BLPOP
    /// (each on a connection of its own: BLPOP holds its connection while it waits).
    private func workQueue() throws -> String {
        let queue = prefix + "jobs"
        let done = Box([Int](repeating: 0, count: workers))
        let group = Group()
        for worker in 0..<workers {
            let connection = try RedisConnection.connect(server)
            try group.spawn {
                defer { connection.close() }
                while true {
                    // BLPOP key seconds: [key, value], or nil after the seconds.
                    let reply = try connection.send(["BLPOP", queue, "5"], timeout: .seconds(10))
                    guard case .array(let pair) = reply, pair.count == 2, let job = pair[1].string else {
                        throw DemoError("worker \(worker): the queue stayed empty for 5 s")
                    }
                    if job == "stop" { return }
                    try Coroutine.sleep(for: .milliseconds(2))  // the job's work
                    done.value[worker] += 1
                }
            }
        }
        // The producer: jobs in batches, then one stop per worker.
        var next = 0
        while next < jobs {
            let batch = (next..<min(next + 10, jobs)).map { "job-\($0)" }
            try redis.rpush(queue, batch)
            next += batch.count
            try Coroutine.sleep(for: .milliseconds(5))
        }
        try redis.rpush(queue, Array(repeating: "stop", count: workers))
        try group.join(raiseError: true)
        for worker in 0..<workers { show("worker \(worker)", "\(done.value[worker]) jobs") }
        let total = done.value.reduce(0, +)
        guard total == jobs else { throw DemoError("\(total) jobs done, \(jobs) pushed") }
        return "\(jobs) jobs over \(workers) workers (\(done.value.map(String.init).joined(separator: "/")))"
    }

    /// Pub/sub between coroutines: two subscribers, three publishers on the shared connection.
    private func pubSub() throws -> String {
        let channel = prefix + "chat"
        let speakers = ["alice", "bob", "carol"]
        let lines = ["hello", "anyone here?"]
        let expected = speakers.count * lines.count
        let redis = redis
        var subscriptions: [RedisSubscription] = []
        defer { subscriptions.forEach { $0.close() } }
        for _ in 0..<2 {
            let subscription = try RedisSubscription.connect(server)
            try subscription.subscribe([channel])  // returns once the server confirmed
            subscriptions.append(subscription)
        }
        let heard = Box([[String]](repeating: [], count: subscriptions.count))
        let listeners = Group()
        for (index, subscription) in subscriptions.enumerated() {
            try listeners.spawn {
                while heard.value[index].count < expected {
                    guard let message = try subscription.next(timeout: .seconds(5)) else { return }
                    heard.value[index].append(message.string)
                }
            }
        }
        let publishers = Group()
        for speaker in speakers {
            try publishers.spawn {
                for line in lines {
                    try redis.send(["PUBLISH", channel, "\(speaker): \(line)"])
                    try Coroutine.yield()
                }
            }
        }
        try publishers.join(raiseError: true)
        try listeners.join(raiseError: true)
        for line in heard.value[0] { show("subscriber 0 heard", line) }
        show("subscriber 1 heard", "\(heard.value[1].count) messages")
        let counts = heard.value.map(\.count)
        guard counts.allSatisfy({ $0 == expected }) else { throw DemoError("subscribers heard \(counts), expected \(expected) each") }
        return "\(expected) messages to \(subscriptions.count) subscribers"
    }

    /// Optimistic locking: coroutines move money between two accounts with WATCH and
    /// MULTI/EXEC, retrying when another got in between; the total never changes.
    private func transaction() throws -> String {
        let accounts = [prefix + "account:a", prefix + "account:b"]
        for account in accounts { try redis.set(account, "1000") }
        let pool = RedisConnectionPool(configuration: server, maximumConnections: 10)
        defer { pool.close() }
        let retries = Box(0)
        let group = Group()
        for index in 0..<coroutines {
            try group.spawn {
                // Even coroutines move 10 from a to b, odd ones 5 back.
                let (from, to, amount) = index % 2 == 0 ? (accounts[0], accounts[1], 10) : (accounts[1], accounts[0], 5)
                try pool.withConnection { connection in
                    while true {
                        try connection.watch(accounts)
                        let balanceFrom = Int(try connection.get(from) ?? "0")!
                        let balanceTo = Int(try connection.get(to) ?? "0")!
                        try Coroutine.yield()  // let others in between: a conflict is the point
                        let replies = try connection.transaction { tx in
                            tx.send("SET", from, String(balanceFrom - amount))
                            tx.send("SET", to, String(balanceTo + amount))
                        }
                        if replies != nil { return }
                        retries.value += 1
                    }
                }
            }
        }
        try group.join(raiseError: true)
        let balances = try accounts.map { Int(try redis.get($0) ?? "0")! }
        for (account, balance) in zip(accounts, balances) { show("GET \(account)", "\(balance)") }
        show("transfers / retries", "\(coroutines) / \(retries.value) (a WATCHed key changed)")
        let expectedA = 1000 - (coroutines + 1) / 2 * 10 + coroutines / 2 * 5
        guard balances == [expectedA, 2000 - expectedA] else {
            throw DemoError("balances \(balances), expected \([expectedA, 2000 - expectedA]): a transfer was lost")
        }
        return "\(coroutines) transfers, \(retries.value) retries, total kept 2000"
    }
}

/// One aligned result line.
private func show(_ label: String, _ value: String) {
    print("  \(pad(label, 40)) \(value)")
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

private func milliseconds(_ duration: Duration) -> String {
    let value = (seconds(duration) * 10_000).rounded() / 10
    return "\(value) ms"
}
