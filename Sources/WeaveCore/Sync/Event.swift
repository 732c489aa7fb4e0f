/// A flag coroutines can wait for (gevent's `Event`, Python's `threading.Event`): `set`
/// wakes every waiter, `clear` lowers it again.
///
/// Belongs to one hub: use it only from that hub's coroutines (between the hubs of a
/// ``HubGroup``, use ``CrossHubChannel`` or ``HubGroup/Member/run(name:fileID:line:_:)``).
public final class Event: WaitTarget, CustomStringConvertible {
    public let label: String?
    @exclusivity(unchecked) private var flag = false
    @exclusivity(unchecked) private var waiters = WaitQueue()

    public init(label: String? = nil) {
        self.label = label
    }

    /// Whether the flag is set.
    public var isSet: Bool { flag }

    /// Sets the flag and wakes every waiting coroutine.
    public func set() {
        flag = true
        waiters.signalAll()
    }

    /// Lowers the flag; later `wait` calls block until the next `set`.
    public func clear() {
        flag = false
    }

    /// Returns at once if the flag is set, else waits until it is.
    ///
    /// Throws ``TimeoutError`` after `timeout`, `CancellationError` if cancelled.
    public func wait(timeout: Duration? = nil) throws {
        if flag { return }
        let coroutine = try AnyCoroutine.requireCurrent("Event.wait")
        try coroutine.wait(on: self, "wait", timeout: timeout,
                           enqueue: { waiters.append($0) }, dequeue: { waiters.remove($0) })
    }

    package var waitDescription: String { "Event\(quoted(label)) (\(flag ? "set" : "clear"))" }

    public var description: String { waitDescription }
}
