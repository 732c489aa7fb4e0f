// weave-redis: GET or SET from C coroutines on K connections to a running server, one JSON
// line per run, beside redis-benchmark (compare-redis.sh).
//
//   weave-redis PORT set|get N C [CONNECTIONS=1] [PIPELINE=1]
//
// Each coroutine has one command in flight at a time (PIPELINE=1; commands from different
// coroutines on one connection are pipelined automatically), or sends explicit pipelines of
// PIPELINE commands. Keys and values as redis-benchmark's: key:__rand_int__-like keys over
// 100,000 names, 3-byte values.
import Foundation
import Weave
import WeaveRedis

let arguments = CommandLine.arguments
guard arguments.count >= 5, let port = Int(arguments[1]), let total = Int(arguments[3]), let clients = Int(arguments[4]),
      ["set", "get"].contains(arguments[2]) else {
    FileHandle.standardError.write("usage: weave-redis PORT set|get N C [CONNECTIONS=1] [PIPELINE=1]\n".data(using: .utf8)!)
    exit(2)
}
let test = arguments[2]
let connectionCount = arguments.count > 5 ? Int(arguments[5]) ?? 1 : 1
let depth = arguments.count > 6 ? Int(arguments[6]) ?? 1 : 1

let seconds: Double = try Hub.run {
    let configuration = RedisConfiguration(host: "127.0.0.1", port: port)
    let connections = try (0..<connectionCount).map { _ in try RedisConnection.connect(configuration) }
    defer { for connection in connections { connection.close() } }
    let keys = (0..<100_000).map { "key:\($0)" }
    let start = ContinuousClock.now
    let workers = try (0..<clients).map { client in
        try spawn(stackSize: 64 * 1024) {
            let redis = connections[client % connectionCount]
            var remaining = total / clients + (client < total % clients ? 1 : 0)
            var index = client
            while remaining > 0 {
                if depth == 1 {
                    if test == "set" { try redis.set(keys[index % keys.count], "xxx") } else { _ = try redis.get(keys[index % keys.count]) }
                    index += clients
                    remaining -= 1
                } else {
                    let batch = min(depth, remaining)
                    _ = try redis.pipeline { pipeline in
                        for offset in 0..<batch {
                            let key = keys[(index + offset * clients) % keys.count]
                            if test == "set" { pipeline.send(["SET", key, "xxx"]) } else { pipeline.send(["GET", key]) }
                        }
                    }
                    index += batch * clients
                    remaining -= batch
                }
            }
        }
    }
    try joinAll(workers)
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
let rate = Double(total) / seconds
print("{\"name\":\"weave-redis\",\"test\":\"\(test.uppercased())\",\"requests\":\(total),\"clients\":\(clients),\"connections\":\(connectionCount),\"pipeline\":\(depth),\"seconds\":\(String(format: "%.3f", seconds)),\"rps\":\(Int(rate))}")
