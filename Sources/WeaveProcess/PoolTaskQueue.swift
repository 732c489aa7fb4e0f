/// A first-in first-out queue of pool tasks (a pool's queued tasks, a worker's tasks in
/// flight): ``FIFO`` made for `PoolTask` alone. `FIFO` is generic and lives in another
/// module, so its code runs unspecialized here and looks up `Array<PoolTask>`'s metadata
/// on every append and pop (some 300 instructions each, several a chunk); this one is
/// concrete code with none.
///
/// A head index into an array, compacted once the consumed prefix is the larger half.
struct PoolTaskQueue {
    private var items: [PoolTask] = []
    private var head = 0

    init() {}

    var count: Int { items.count &- head }
    var isEmpty: Bool { head == items.count }
    var first: PoolTask? { head < items.count ? items[head] : nil }

    mutating func append(_ task: PoolTask) { items.append(task) }

    /// Puts `tasks` back in front, in their order (work taken back from a dead worker).
    mutating func prepend(contentsOf tasks: [PoolTask]) {
        guard !tasks.isEmpty else { return }
        items.replaceSubrange(head..<head, with: tasks)
    }

    mutating func popFirst() -> PoolTask? {
        guard head < items.count else { return nil }
        let task = items[head]
        head &+= 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return task
    }

    /// Removes the first task that matches; returns whether there was one.
    mutating func removeFirst(where matches: (PoolTask) -> Bool) -> Bool {
        guard let index = items[head...].firstIndex(where: matches) else { return false }
        items.remove(at: index)
        return true
    }

    /// Empties the queue, returning what it held in order.
    mutating func drain() -> [PoolTask] {
        let rest = Array(items[head...])
        items.removeAll()
        head = 0
        return rest
    }
}
