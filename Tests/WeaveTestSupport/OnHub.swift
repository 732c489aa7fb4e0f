import Glibc
import Weave

// What the test targets share (WeaveTests and the clients' test targets).

/// Runs `body` inside `Hub.run` on a pthread of its own and awaits the result. Swift
/// Testing runs tests concurrently on the cooperative pool, which must never be blocked
/// by a hub, so each test's hub gets its own thread.
public func onHub<T: Sendable>(
    configuration: Hub.Configuration = .init(),
    _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let job = HubJob { continuation.resume(with: Result { try Hub.run(configuration: configuration, body) }) }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 8 << 20)
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<HubJob>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, Unmanaged.passRetained(job).toOpaque())
        pthread_attr_destroy(&attributes)
        precondition(status == 0, "pthread_create failed: \(status)")
        pthread_detach(thread)
    }
}

/// The work handed to the hub's thread; it runs there once.
private final class HubJob: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A mutable box shared by the coroutines of one hub (one thread).
public final class Box<Value> {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}
