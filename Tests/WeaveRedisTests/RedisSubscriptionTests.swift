import Testing
import Weave
import WeaveRedis
import WeaveTestSupport

@Suite("Redis pub/sub")
struct RedisSubscriptionTests {
    @Test("A subscriber coroutine receives what others publish, in order, until closed", arguments: [RedisConfiguration.ProtocolVersion.resp2, .resp3])
    func chat(_ version: RedisConfiguration.ProtocolVersion) async throws {
        try await withRedisServer { server in
            let configuration = server.configuration(version)
            try await onHub {
                let subscription = try RedisSubscription.connect(configuration)
                try subscription.subscribe(["chat", "news"])
                try subscription.psubscribe(["log.*"])
                #expect(subscription.subscriptionCount == 3)
                let received = Box<[RedisMessage]>([])
                let ended = Event()
                let reader = try spawn {
                    for message in subscription {
                        received.value.append(try message.get())
                    }
                    ended.set()
                }
                let publisher = try RedisConnection.connect(configuration)
                defer { publisher.close() }
                let senders = try (0..<3).map { index in
                    try spawn {
                        for round in 0..<10 { try publisher.send(["PUBLISH", "chat", "\(index):\(round)"]) }
                    }
                }
                try joinAll(senders)
                #expect(try publisher.send(["PUBLISH", "log.disk", "full"]) == .integer(1))
                #expect(try publisher.send(["PUBLISH", "nobody", "x"]) == .integer(0))
                while received.value.count < 31 { try Coroutine.sleep(for: .milliseconds(5)) }
                subscription.close()
                try ended.wait(timeout: .seconds(10))
                try reader.join()
                let chat = received.value.filter { $0.channel == "chat" }.map(\.string)
                for index in 0..<3 {
                    #expect(chat.filter { $0.hasPrefix("\(index):") } == (0..<10).map { "\(index):\($0)" })
                }
                #expect(received.value.last == RedisMessage(channel: "log.disk", pattern: "log.*", payload: Array("full".utf8)))
                #expect(try subscription.next() == nil)
            }
        }
    }

    @Test("next(timeout:) times out without losing anything; unsubscribe is confirmed")
    func timeoutAndUnsubscribe() async throws {
        try await withRedisServer { server in
            let configuration = server.configuration
            try await onHub {
                let subscription = try RedisSubscription.connect(configuration)
                defer { subscription.close() }
                try subscription.subscribe(["a", "b"])
                #expect(throws: TimeoutError.self) { try subscription.next(timeout: .milliseconds(50)) }
                let publisher = try RedisConnection.connect(configuration)
                defer { publisher.close() }
                try publisher.send(["PUBLISH", "a", "one"])
                #expect(try subscription.next(timeout: .seconds(10))?.string == "one")
                try subscription.unsubscribe(["a"])
                #expect(subscription.subscriptionCount == 1)
                try publisher.send(["PUBLISH", "a", "lost"])
                try publisher.send(["PUBLISH", "b", "two"])
                #expect(try subscription.next(timeout: .seconds(10)) == RedisMessage(channel: "b", payload: Array("two".utf8)))
            }
        }
    }
}
