import Weave

extension StreamServer {
    /// Serves until `stop` is set, then stops gracefully: stops accepting, lets the
    /// connections being served finish within `gracePeriod`, cancels the rest, and returns
    /// once every handler has unwound. With ``HubService``, pass its `shutdown` event.
    ///
    /// Parks the calling coroutine throughout. Returns at once (after stopping) if `stop` is
    /// already set.
    ///
    /// - Throws: what the accept loop or `stop(gracePeriod:)` threw; `CancellationError`
    ///   when the calling coroutine is cancelled (the server is then left to the hub's
    ///   shutdown, which cancels its handlers without a grace period).
    public func serve(until stop: Event, gracePeriod: Duration = .seconds(5)) throws {
        try serveUntil(stop, start: start, serveForever: serveForever, stop: { try self.stop(gracePeriod: gracePeriod) })
    }
}

extension UnixStreamServer {
    /// Serves until `stop` is set, then stops gracefully; see
    /// `StreamServer.serve(until:gracePeriod:)`.
    public func serve(until stop: Event, gracePeriod: Duration = .seconds(5)) throws {
        try serveUntil(stop, start: start, serveForever: serveForever, stop: { try self.stop(gracePeriod: gracePeriod) })
    }
}

/// The shared shape of both servers' `serve(until:gracePeriod:)`.
private func serveUntil(
    _ event: Event, start: () throws -> Void, serveForever: () throws -> Void, stop: @escaping () throws -> Void
) throws {
    try start()
    // `stop` closes the listener first, which ends `serveForever`, then drains the
    // handlers: the stopper runs it, and this coroutine joins the stopper for the drain.
    let stopper = try spawn(name: "stop on event") {
        try event.wait()
        try stop()
    }
    defer { stopper.cancel() }  // no effect once it has finished
    try serveForever()
    if event.isSet { try stopper.join() }
}
