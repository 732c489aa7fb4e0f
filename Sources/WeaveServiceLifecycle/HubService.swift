import ServiceLifecycle
import Weave

/// A swift-service-lifecycle `Service` that runs a hub on a thread of its own, with `body`
/// as its first coroutine, and stops it gracefully when the `ServiceGroup` shuts down
/// (on SIGTERM, for a group configured with `gracefulShutdownSignals: [.sigterm]`).
///
/// ```swift
/// let echo = HubService(name: "echo") { shutdown in
///     let server = try StreamServer(port: 9000) { connection in
///         while case let bytes = try connection.read(), !bytes.isEmpty { try connection.write(bytes) }
///     }
///     try server.serve(until: shutdown, gracePeriod: .seconds(10))
/// }
/// let group = ServiceGroup(services: [echo], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// ``run()`` starts a `HubThread` and runs `body` in a coroutine there; it returns once
/// the body has returned and the hub has stopped: coroutines still alive are then cancelled
/// and unwound, and every socket, timer and handle of the hub is closed.
///
/// Graceful shutdown reaches the body as an `Event`, `shutdown`, set on the hub's
/// thread: the signal to stop taking new work and finish what is in hand, as gevent's
/// `server.stop()` on SIGTERM. Wait for it (`try shutdown.wait()`), check `shutdown.isSet`
/// between units of work, or hand it to `StreamServer.serve(until:gracePeriod:)`, which
/// stops accepting, lets the connections being served finish within a grace period, then
/// cancels the rest. The body is not cancelled by a graceful shutdown: it decides how to
/// wind down, bounded by the group's `maximumGracefulShutdownDuration` if one is set.
///
/// Cancelling the task that runs the service (the group cancels its services on a
/// cancellation signal, when a service fails, or when its graceful shutdown runs out of
/// time) cancels the body: its blocking call throws `CancellationError`, which ``run()``
/// rethrows once the hub has stopped. An error thrown by the body is rethrown by ``run()``
/// the same way, and fails the group (with the group's default termination behaviour).
public struct HubService: Service, CustomStringConvertible {
    /// The hub-side code of a service: a coroutine on the service's hub, given the event
    /// that graceful shutdown sets.
    public typealias Body = @Sendable (_ shutdown: Event) throws -> Void

    /// The service's name: its hub thread's name and its body coroutine's.
    public let name: String?
    /// The configuration of the service's hub.
    public let configuration: Hub.Configuration
    private let body: Body

    /// A service that will run `body` on a new hub each time ``run()`` is called.
    public init(name: String? = nil, configuration: Hub.Configuration = .init(), _ body: @escaping Body) {
        self.name = name
        self.configuration = configuration
        self.body = body
    }

    public var description: String { name.map { "HubService(\($0))" } ?? "HubService" }

    /// Runs the hub and `body` until the body returns (or throws), then stops the hub.
    ///
    /// Suspends the calling task (blocking no thread but for starting the hub's). Graceful
    /// shutdown of the enclosing `ServiceGroup` sets the body's `shutdown` event; task
    /// cancellation cancels the body.
    ///
    /// - Throws: the body's error; `CancellationError` when the task was cancelled and the
    ///   body let the cancellation through; `WeaveError` when the hub cannot start (a bad
    ///   configuration, no thread); or, if the body succeeded, what stopping the hub threw.
    public func run() async throws {
        let hub = try HubThread(name: name, configuration: configuration)
        let outcome: Result<Void, any Error>
        do {
            let (work, watcher) = try await start(on: hub)
            outcome = await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    await work.result
                } onGracefulShutdown: {
                    watcher.cancel()
                }
            } onCancel: {
                work.cancel()
            }
        } catch {
            outcome = .failure(error)
        }
        // Stops the hub whatever the body did: what it left running is cancelled and
        // unwound, and the loop closed, before the service reports that it has finished.
        let stopped: Result<Void, any Error>
        do {
            try await hub.shutdown()
            stopped = .success(())
        } catch {
            stopped = .failure(error)
        }
        try outcome.get()
        try stopped.get()
    }

    /// Spawns the body and its graceful-shutdown watcher on `hub`.
    ///
    /// Graceful shutdown arrives on another thread; the one request a `CoroutineHandle`
    /// carries across threads is cancellation. So the watcher is a coroutine that parks on
    /// an event nobody sets, and turns its cancellation into `shutdown.set()` on the hub's
    /// thread; the body itself stays uncancelled.
    private func start(on hub: HubThread) async throws -> (work: CoroutineHandle<Void>, watcher: CoroutineHandle<Void>) {
        let body = self.body
        let name = self.name
        return try await hub.run(name: "HubService start") {
            let shutdown = Event(label: "graceful shutdown")
            let watcher = try spawn(name: "graceful shutdown watcher") {
                try? Event(label: "woken only by cancellation").wait()
                shutdown.set()
            }
            let work = try spawn(name: name) {
                defer { watcher.cancel() }
                try body(shutdown)
            }
            // Lets the watcher reach its wait before any cancellation can arrive: a
            // coroutine cancelled before it starts never runs, and would never set `shutdown`.
            try Coroutine.yield()
            return (work.handle(), watcher.handle())
        }
    }
}
