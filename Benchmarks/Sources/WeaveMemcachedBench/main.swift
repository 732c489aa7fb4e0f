// weave-memcached: WeaveMemcached's request rate against one memcached server, one JSON line
// per workload, beside memaslap and pymemcache under gevent (compare-memcached.sh).
//
//   weave-memcached PORT [COROUTINES=50] [REQUESTS=200000] [WORKLOADS=set,get,mixed]
//
// COROUTINES coroutines share one MemcachedClient whose pool has one connection per
// coroutine (each coroutine has one request in flight, as memaslap's -c connections do);
// REQUESTS in all, split evenly. Keys are memcached-key:100000 ... (10,000 of 20 bytes), values 32 bytes. Workloads:
// set (ms), get (mg, after the sets filled every key), mixed (one set in ten, like
// memaslap's default mix), and on request getmany (getMany of 100 keys a call: the
// pipelined path; requests count keys). Build in release: `swift build -c release --product weave-memcached`.
import Glibc
import Weave
import WeaveMemcached

let arguments = CommandLine.arguments
func number(_ index: Int, default value: Int) -> Int {
    guard arguments.count > index else { return value }
    guard let parsed = Int(arguments[index]), parsed > 0 else {
        print("weave-memcached: expected a positive number, got '\(arguments[index])'")
        exit(2)
    }
    return parsed
}
guard arguments.count > 1, let port = Int(arguments[1]) else {
    print("usage: weave-memcached PORT [COROUTINES=50] [REQUESTS=200000] [WORKLOADS=set,get,mixed]")
    exit(2)
}
let coroutines = number(2, default: 50)
let requests = number(3, default: 200_000)
let workloads = arguments.count > 4 ? arguments[4].split(separator: ",").map(String.init) : ["set", "get", "mixed"]
let keyCount = 10_000
let keys = (0..<keyCount).map { "memcached-key:\($0 + 100_000)" }  // 20 bytes, as memaslap's
let value = [UInt8](repeating: UInt8(ascii: "v"), count: 32)

try Hub.run {
    let client = try MemcachedClient(
        servers: [MemcachedServer(host: "127.0.0.1", port: port)],
        configuration: .init(maximumConnectionsPerServer: coroutines))
    defer { client.close() }
    for key in keys { try client.set(key, value) }
    for workload in workloads {
        let perCoroutine = requests / coroutines
        let start = ContinuousClock.now
        let group = Group()
        for index in 0..<coroutines {
            try group.spawn {
                var position = index * 7919 % keyCount
                if workload == "getmany" {
                    for _ in 0..<perCoroutine / 100 {
                        let start = position % (keyCount - 100)
                        _ = try client.getMany(Array(keys[start..<start + 100]))
                        position += 100
                    }
                    return
                }
                for request in 0..<perCoroutine {
                    let key = keys[position]
                    position = position + 1 == keyCount ? 0 : position + 1
                    switch workload {
                    case "set": try client.set(key, value)
                    case "get": _ = try client.get(key)
                    default:
                        if request % 10 == 0 { try client.set(key, value) } else { _ = try client.get(key) }
                    }
                }
            }
        }
        try group.join(raiseError: true)
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - start).components.seconds)
        let total = perCoroutine * coroutines
        print("{\"client\":\"weave\",\"workload\":\"\(workload)\",\"coroutines\":\(coroutines),\"requests\":\(total),\"seconds\":\(seconds),\"ops_per_sec\":\(Int(Double(total) / seconds))}")
        fflush(nil)
    }
}
