// Messages per second through a CrossHubChannel from a coroutine on hub 1 to one on hub 0
// (two hubs, two threads), printed as one JSON line beside Peers/go-crosshub's.
//
//   weave-crosshub [MESSAGES=2000000] [CAPACITY=1024]
import Glibc
import Weave

let arguments = CommandLine.arguments.dropFirst().map { Int($0) }
let messages = arguments.first.flatMap { $0 } ?? 2_000_000
let capacity = arguments.dropFirst().first.flatMap { $0 } ?? 1024
guard messages > 0, capacity > 0 else {
    print("usage: weave-crosshub [MESSAGES>0] [CAPACITY>0]")
    exit(2)
}

let (seconds, sum) = try HubGroup.run(hubs: 2) { group -> (Double, Int) in
    let channel = CrossHubChannel<Int>(capacity: capacity)
    let clock = ContinuousClock()
    let start = clock.now
    try group.hub(1).spawn(name: "producer") {
        defer { channel.close() }
        for message in 0..<messages { try channel.send(message) }
    }
    var sum = 0
    while let message = try channel.receive() { sum &+= message }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (seconds, sum)
}
// The sum proves every message arrived once.
precondition(sum == messages * (messages - 1) / 2, "lost or duplicated messages")
print("{\"impl\":\"weave-crosshub\",\"messages\":\(messages),\"capacity\":\(capacity),\"seconds\":\(seconds),\"msgs_per_sec\":\(Int(Double(messages) / seconds))}")
