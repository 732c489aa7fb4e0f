import WeaveCore

/// A command waiting for its reply: where the reply goes (in the waiting call's frame or
/// its pipeline's buffer) and who to wake, if anyone (a pipeline wakes on its last reply).
struct PendingReply {
    typealias Outcome = Result<RESPValue, RedisError>
    /// Owned by the call that waits; valid until that call has its reply or the
    /// connection has failed it (both happen before the call returns).
    let slot: UnsafeMutablePointer<Outcome?>
    /// Unretained: the waiter is parked in `execute`/`executeBatch` until its entry is
    /// answered or failed (a failure fills every entry before anyone resumes), so it outlives
    /// the entry; retaining it cost a retain and a release per command.
    unowned(unsafe) let waiter: AnyCoroutine?
    /// The caller wants a bulk string reply as text (see ``RESPParser/parse(bulkAsText:)``).
    var wantsText = false
}

/// The commands written and not yet answered, oldest first (replies come in order).
/// An array with a moving head: appends and removals from the front cost no allocation once
/// the array has grown to the connection's usual depth.
struct ReplyQueue {
    private var items: [PendingReply] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }
    /// Whether the oldest command wants its bulk string reply as text.
    var firstWantsText: Bool { head < items.count && items[head].wantsText }

    mutating func append(_ item: PendingReply) {
        items.append(item)
    }

    mutating func popFirst() -> PendingReply? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
