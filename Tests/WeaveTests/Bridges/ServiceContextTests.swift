import Logging
import ServiceContextModule
import Testing
import Weave
@testable import WeaveBridges
@testable import WeaveCore
import WeaveTestSupport

private enum RequestID: ServiceContextKey {
    typealias Value = String
}

private func context(_ requestID: String) -> ServiceContext {
    var context = ServiceContext.topLevel
    context[RequestID.self] = requestID
    return context
}

@Suite("ServiceContext across the bridges")
struct ServiceContextTests {
    @Test("HubThread.run: the coroutine, and those it spawns, see the task's context")
    func taskToCoroutine() async throws {
        let hubThread = try HubThread(name: "context-in")
        let seen = try await ServiceContext.$current.withValue(context("r-1")) {
            try await hubThread.run { () throws -> [String?] in
                let own = Coroutine.serviceContext?[RequestID.self]
                try Coroutine.sleep(for: .milliseconds(1))   // still there after blocking
                let afterSleep = Coroutine.serviceContext?[RequestID.self]
                let child = try spawn { () throws -> String? in
                    try Coroutine.sleep(for: .milliseconds(1))
                    return Coroutine.serviceContext?[RequestID.self]
                }
                let grandchild = try spawn { () throws -> String? in
                    try spawn { Coroutine.serviceContext?[RequestID.self] }.join()
                }
                // Code that reads the task-local (a tracer, a metadata provider) sees it too.
                let bound = Coroutine.bindingServiceContext { ServiceContext.current?[RequestID.self] }
                return [own, afterSleep, try child.join(), try grandchild.join(), bound]
            }
        }
        #expect(seen == ["r-1", "r-1", "r-1", "r-1", "r-1"])
        // A submission from a task without a context brings none, and nothing lingers on the hub.
        let none = try await hubThread.run { Coroutine.serviceContext?[RequestID.self] }
        #expect(none == nil)
        let handle = try await ServiceContext.$current.withValue(context("r-2")) {
            try await hubThread.spawn { Coroutine.serviceContext?[RequestID.self] }
        }
        #expect(try await handle.value == "r-2")
        try await hubThread.shutdown()
    }

    @Test("awaitAsync: the task sees the coroutine's context as ServiceContext.current")
    func coroutineToTask() async throws {
        let seen = try await onHub { () throws -> [String?] in
            let unbound = try awaitAsync { ServiceContext.current?[RequestID.self] }
            return try Coroutine.withServiceContext(context("r-3")) {
                let direct = try awaitAsync { ServiceContext.current?[RequestID.self] }
                let fromChild = try spawn { () throws -> String? in
                    try awaitAsync { () async throws -> String? in
                        try await Task.sleep(for: .milliseconds(1))
                        return ServiceContext.current?[RequestID.self]
                    }
                }.join()
                let nested = try Coroutine.withServiceContext(context("r-4")) {
                    try awaitAsync { ServiceContext.current?[RequestID.self] }
                }
                let restored = try awaitAsync { ServiceContext.current?[RequestID.self] }
                return [unbound, direct, fromChild, nested, restored]
            }
        }
        #expect(seen == [nil, "r-3", "r-3", "r-4", "r-3"])
    }

    @Test("a round trip: task to hub to task keeps the context")
    func roundTrip() async throws {
        let hubThread = try HubThread(name: "context-round-trip")
        let seen = try await ServiceContext.$current.withValue(context("r-5")) {
            try await hubThread.run { () throws -> String? in
                try awaitAsync { ServiceContext.current?[RequestID.self] }
            }
        }
        #expect(seen == "r-5")
        try await hubThread.shutdown()
    }

    @Test("the stream bridges carry the context: the receiving coroutine and the iterating task")
    func streams() async throws {
        let hubThread = try HubThread(name: "context-streams")
        let values = try await hubThread.run { () throws -> HubAsyncSequence<String> in
            let done = Box(false)
            return try HubAsyncSequence { () throws -> String? in
                defer { done.value = true }
                return done.value ? nil : (Coroutine.serviceContext?[RequestID.self] ?? "none")
            }
        }
        let received = try await ServiceContext.$current.withValue(context("r-6")) {
            var received: [String] = []
            for try await value in values { received.append(value) }
            return received
        }
        #expect(received == ["r-6"])

        let fromTask = try await hubThread.run { () throws -> String? in
            try Coroutine.withServiceContext(context("r-7")) {
                // The element is made by the iterating task itself, to see its context.
                try ContextReadingSequence().makeBlockingIterator().next()
            }
        }
        #expect(fromTask == "r-7")
        try await hubThread.shutdown()
    }
}

/// Yields `ServiceContext.current`'s request id once, read in the task that iterates it.
private struct ContextReadingSequence: AsyncSequence, Sendable {
    func makeAsyncIterator() -> Iterator { Iterator() }

    struct Iterator: AsyncIteratorProtocol {
        var done = false
        mutating func next() async -> String? {
            guard !done else { return nil }
            done = true
            return ServiceContext.current?[RequestID.self] ?? "none"
        }
    }
}

@Suite("ServiceContext for logger metadata providers in coroutines")
struct CoroutineMetadataProviderTests {
    @Test("a provider that reads the task-local tags what coroutines log")
    func metadataProvider() async throws {
        let taskProvider = Logger.MetadataProvider {
            ServiceContext.current?[RequestID.self].map { ["request-id": "\($0)"] } ?? [:]
        }
        let provider = Logger.MetadataProvider.bindingCoroutineServiceContext(taskProvider)
        let hubThread = try HubThread(name: "context-logging")
        let (plain, wrapped, child) = try await ServiceContext.$current.withValue(context("r-8")) {
            try await hubThread.run { () throws -> (Logger.Metadata, Logger.Metadata, Logger.Metadata) in
                let child = try spawn { provider.get() }
                return (taskProvider.get(), provider.get(), try child.join())
            }
        }
        // The task-local does not follow coroutines; the wrapped provider brings it along.
        #expect(plain.isEmpty)
        #expect(wrapped["request-id"] == "r-8")
        #expect(child["request-id"] == "r-8")
        // Outside a coroutine the wrapped provider reads the task-local as it is.
        let outside = ServiceContext.$current.withValue(context("r-9")) { provider.get() }
        #expect(outside["request-id"] == "r-9")
        try await hubThread.shutdown()
    }
}
