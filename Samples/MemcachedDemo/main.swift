// memcached-demo: the course's memcached exercise in Weave: values set and read across two
// servers placed by consistent hashing, a compare-and-swap race between coroutines, and
// counters bumped from many coroutines at once. Without --servers it starts two local
// memcached processes (Debian: apt-get install memcached) and stops them at the end.
//
//   swift run -c release memcached-demo [--servers 127.0.0.1:11211,127.0.0.1:11212] [--coroutines 50]
import ArgumentParser
import Glibc
import SampleSupport
import Weave
import WeaveMemcached

struct MemcachedDemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memcached-demo",
        abstract: "Sets, gets and compare-and-swaps across two memcached servers from many coroutines.")

    @Option(help: "Comma-separated host:port list (default: start two local memcached processes).")
    var servers: String?

    @Option(help: "Coroutines in the CAS race and the counter run.")
    var coroutines = 50

    @Option(help: "Path of the memcached binary used when --servers is not given.")
    var memcached = "/usr/bin/memcached"

    func validate() throws {
        try require("--coroutines", coroutines, in: 1...10_000)
        if let servers {
            for part in servers.split(separator: ",") {
                do { _ = try MemcachedServer(parsing: String(part)) } catch { throw ValidationError("--servers: \(error)") }
            }
        }
    }

    func run() throws {
        try Hub.run {
            var local: [LocalMemcached] = []
            defer { for server in local { server.stop() } }
            let addresses: [MemcachedServer]
            if let servers {
                addresses = try servers.split(separator: ",").map { try MemcachedServer(parsing: String($0)) }
            } else {
                for _ in 0..<2 { local.append(try LocalMemcached(executable: memcached)) }
                addresses = local.map(\.server)
                print("started memcached on \(addresses.map(\.description).joined(separator: " and "))")
            }
            let cache = try MemcachedClient(servers: addresses)
            defer { cache.close() }
            try demo(cache)
        }
    }

    func demo(_ cache: MemcachedClient) throws {
        // 1. Keys spread over the servers; each is read back from the server the ring names.
        print("\n1. set and get across \(cache.servers.count) servers")
        for city in ["Amsterdam", "Berlin", "Lisbon", "Oslo", "Paris", "Rome"] {
            try cache.set("city:\(city)", "visited \(city)", ttl: .seconds(300))
            print("  city:\(city) -> \(cache.server(for: "city:\(city)")): \(try cache.getString("city:\(city)") ?? "miss")")
        }

        // 2. A CAS race: every coroutine reads the stock and tries to take one item with
        //    compare-and-swap, retrying when another coroutine got there first.
        print("\n2. \(coroutines) coroutines buy from a stock of \(coroutines) with compare-and-swap")
        try cache.set("stock", "\(coroutines)")
        let retries = Box(0)
        let buyers = Group()
        for _ in 0..<coroutines {
            try buyers.spawn {
                while true {
                    guard let item = try cache.getItem("stock"), let stock = Int(item.string), stock > 0 else { return }
                    do {
                        try cache.set("stock", "\(stock - 1)", cas: item.cas)
                        return
                    } catch let error as MemcachedError where error.code == .exists {
                        retries.value += 1  // someone bought in between: read again
                    }
                }
            }
        }
        try buyers.join(raiseError: true)
        print("  stock now \(try cache.getString("stock") ?? "?") after \(retries.value) CAS conflicts (retried)")

        // 3. Counters from many coroutines: increments are atomic on the server.
        print("\n3. \(coroutines) coroutines x 100 increments on counters spread over the servers")
        let start = ContinuousClock.now
        let counters = Group()
        for index in 0..<coroutines {
            try counters.spawn {
                for _ in 0..<100 { try cache.increment("hits:\(index % 4)", initial: 1) }
            }
        }
        try counters.join(raiseError: true)
        let elapsed = ContinuousClock.now - start
        var total: UInt64 = 0
        for index in 0..<4 {
            let value = try cache.increment("hits:\(index)", by: 0)
            total += value
            print("  hits:\(index) on \(cache.server(for: "hits:\(index)")) = \(value)")
        }
        print("  total \(total) (expected \(coroutines * 100)) in \(elapsed)")

        // 4. Many keys in one round trip per server.
        let values = try cache.getMany(["city:Oslo", "city:Rome", "city:Nowhere"])
        print("\n4. getMany: \(values.keys.sorted()) (misses are left out)")
    }
}

final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

MemcachedDemoCommand.main()
