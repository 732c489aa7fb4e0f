/// Entry points of the runtime.
public enum Weave {
    /// Runs `body` as the main coroutine of a new hub on the calling thread, and returns
    /// its value or rethrows its error.
    ///
    /// Inside, `spawn`, blocking calls and timers work; outside, they throw. When the body
    /// returns, every coroutine still alive is cancelled and unwound, every libuv handle is
    /// closed, then the loop; only then does `run` return. The calling thread is blocked
    /// throughout: never call it from Swift concurrency's cooperative pool, and never
    /// wait on `@MainActor` work from a hub that runs on the main thread.
    ///
    /// - Throws: the body's error; ``DeadlockError`` when every coroutine is parked and
    ///   nothing can wake one (all are cancelled and unwound first); ``WeaveError`` with
    ///   ``WeaveError/Code/nestedRun`` when this thread already runs a hub.
    public static func run<T>(configuration: Hub.Configuration = .init(), _ body: () throws -> T) throws -> T {
        if Hub.current != nil {
            throw WeaveError(.nestedRun, "Weave.run called on a thread that already runs a hub; spawn a coroutine instead")
        }
        let hub = try Hub(configuration: configuration)
        defer { hub.close() }
        // The main coroutine has finished (and dropped the closure) before runMain returns.
        return try withoutActuallyEscaping(body) { body in try hub.runMain(body) }
    }
}
