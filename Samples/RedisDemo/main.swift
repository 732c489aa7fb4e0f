// redis-demo: the course's Redis lesson in Weave: strings with expiry, counters bumped by many
// coroutines over one auto-pipelined connection, a hash, a list as a work queue drained by
// worker coroutines with BLPOP, pub/sub between coroutines, and a MULTI/WATCH transfer.
// Needs a running Redis (Debian: apt-get install redis-server); its keys start "redis-demo:".
//
//   swift run -c release redis-demo [--url redis://127.0.0.1:6379] [--coroutines 50] [--workers 4]
import ArgumentParser
import SampleSupport
import Weave
import WeaveRedis

struct RedisDemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-demo",
        abstract: "Strings, counters, a hash, a work queue, pub/sub and a transaction against Redis from coroutines.")

    @Option(help: "The server: redis://[[user]:password@]host[:port][/database].")
    var url = "redis://127.0.0.1:6379"

    @Option(help: "Coroutines bumping the counters (and moving money in the transaction part).")
    var coroutines = 50

    @Option(help: "Worker coroutines taking jobs from the queue with BLPOP.")
    var workers = 4

    @Option(help: "Jobs pushed onto the queue.")
    var jobs = 40

    func validate() throws {
        try require("--coroutines", coroutines, in: 1...10_000)
        try require("--workers", workers, in: 1...1_000)
        try require("--jobs", jobs, in: 0...1_000_000)
        do { _ = try RedisURL(url) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let server = try RedisURL(url)
        try Hub.run {
            let redis: RedisConnection
            do {
                redis = try RedisConnection.connect(server.configuration)
            } catch {
                throw DemoError("no Redis server answers at \(server) (\(error)); start one (redis-server) or pass --url")
            }
            defer { redis.close() }
            print("connected to \(server)")
            let demo = Demo(redis: redis, server: server.configuration, coroutines: coroutines, workers: workers, jobs: jobs)
            defer { try? demo.cleanUp() }
            try demo.run()
            demo.printSummary()
        }
    }
}

RedisDemoCommand.main()
