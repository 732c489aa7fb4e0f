import CWeaveContext

/// A hub's pending deadlines: a 4-ary min-heap of plain values (deadline, sequence, slot)
/// over a table of actions. A hub keeps one and arms a single `uv_timer_t` for its earliest
/// entry, instead of a libuv handle (and a close) per sleep.
///
/// Why this shape: comparisons read only the heap's own array (four children share a cache
/// line), moves copy 16 bytes and touch no reference count, and a timer costs no allocation
/// once the arrays have grown (slots are reused through a free list). Removal is lazy: a
/// removed timer's slot is freed at once and its heap entry, which no longer matches the
/// slot's sequence, is dropped when it reaches the top, or by a compaction once removed
/// entries outnumber live ones.
struct TimerHeap {
    /// One heap entry. `sequence` orders equal deadlines first-in first-out and tells a live
    /// entry from one whose timer was removed (its slot then holds another sequence).
    /// `tagged` is the slot, with `interruptsBit` set for anything but a plain wake-up.
    struct Entry {
        var deadline: UInt64
        var sequence: UInt32
        var tagged: UInt32

        var slot: Int { Int(tagged & ~TimerHeap.interruptsBit) }
    }

    static let interruptsBit: UInt32 = 1 << 31

    private var entries: [Entry] = []
    // The table, by slot, split so that a wake-up reads only small dense arrays: the live
    // timer's sequence (0 while the slot is free), the fiber of a wake-up, and the action
    // of every other kind (a larger value, read only for those).
    private var sequences: [UInt32] = []
    private var wakeFibers: [UnsafeMutablePointer<weave_fiber>?] = []
    private var actions: [TimerNode.Action?] = []
    private var freeSlots: [UInt32] = []
    private var lastSequence: UInt32 = 0
    /// Entries in `entries` whose timer was removed.
    private var removedEntries = 0

    init() {
        // Allocating here instantiates the arrays' generic metadata on the thread that makes
        // the hub. Left to the first sleep, the Swift runtime's first lookup of a type such
        // as `[UnsafeMutablePointer<weave_fiber>?]` demangles on that coroutine's stack,
        // deep enough to overflow a 16 KiB one.
        entries.reserveCapacity(64)
        sequences.reserveCapacity(64)
        wakeFibers.reserveCapacity(64)
        actions.reserveCapacity(64)
        freeSlots.reserveCapacity(64)
    }

    /// Live timers.
    var count: Int { entries.count - removedEntries }
    var isEmpty: Bool { count == 0 }

    /// Schedules `action` at `deadline` (`uv_hrtime()` nanoseconds).
    mutating func insert(deadline: UInt64, _ action: TimerNode.Action) -> TimerNode {
        lastSequence &+= 1
        if lastSequence == 0 { lastSequence = 1 }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = Int(free)
        } else {
            slot = sequences.count
            precondition(UInt32(slot) < TimerHeap.interruptsBit, "too many timers")
            sequences.append(0)
            wakeFibers.append(nil)
            actions.append(nil)
        }
        sequences[slot] = lastSequence
        var tagged = UInt32(slot)
        if case .wake(let fiber) = action {
            wakeFibers[slot] = fiber
        } else {
            actions[slot] = action
            tagged |= TimerHeap.interruptsBit
        }
        entries.append(Entry(deadline: deadline, sequence: lastSequence, tagged: tagged))
        siftUp(entries.count - 1)
        return TimerNode(slot: UInt32(slot), sequence: lastSequence)
    }

    /// Removes the timer if it is still pending; returns whether it was.
    @discardableResult
    mutating func remove(_ node: TimerNode) -> Bool {
        let slot = Int(node.slot)
        guard slot < sequences.count, sequences[slot] == node.sequence else { return false }
        free(slot)
        removedEntries += 1
        if removedEntries > 64 && removedEntries > entries.count / 2 { compact() }
        return true
    }

    /// The earliest live deadline, and whether its action interrupts a coroutine (anything
    /// but a plain wake-up); drops removed entries found on top.
    mutating func first() -> (deadline: UInt64, interrupts: Bool)? {
        while let top = entries.first {
            if sequences[top.slot] == top.sequence { return (top.deadline, top.tagged & TimerHeap.interruptsBit != 0) }
            removeTop()
            removedEntries -= 1
        }
        return nil
    }

    /// Takes the earliest live timer's action out of the heap.
    mutating func popFirst() -> TimerNode.Action? {
        guard first() != nil else { return nil }
        let top = entries[0]
        let slot = top.slot
        let action: TimerNode.Action?
        if top.tagged & TimerHeap.interruptsBit == 0 {
            action = .wake(wakeFibers[slot].unsafelyUnwrapped)
        } else {
            action = actions[slot]
        }
        removeTop()
        free(slot)
        return action
    }

    /// Removes every timer (at hub shutdown); returns how many were pending.
    @discardableResult
    mutating func removeAll() -> Int {
        let live = count
        entries.removeAll()
        sequences.removeAll()
        wakeFibers.removeAll()
        actions.removeAll()
        freeSlots.removeAll()
        removedEntries = 0
        return live
    }

    /// The live deadlines in firing order (tests only: O(n log n)).
    func liveDeadlinesInOrder() -> [UInt64] {
        entries.filter { sequences[$0.slot] == $0.sequence }.sorted(by: TimerHeap.fires).map(\.deadline)
    }

    // MARK: - Heap

    @inline(__always)
    private static func fires(_ a: Entry, before b: Entry) -> Bool {
        // Sequences wrap: compared by their difference (live timers span far fewer than 2^31).
        a.deadline < b.deadline || (a.deadline == b.deadline && Int32(bitPattern: a.sequence &- b.sequence) < 0)
    }

    private mutating func free(_ slot: Int) {
        sequences[slot] = 0
        if wakeFibers[slot] != nil { wakeFibers[slot] = nil } else { actions[slot] = nil }
        freeSlots.append(UInt32(slot))
    }

    private mutating func removeTop() {
        let last = entries.removeLast()
        if !entries.isEmpty { siftDown(last, from: 0) }
    }

    private mutating func siftUp(_ start: Int) {
        entries.withUnsafeMutableBufferPointer { heap in
            let moving = heap[start]
            var hole = start
            while hole > 0 {
                let parent = (hole - 1) / 4
                guard TimerHeap.fires(moving, before: heap[parent]) else { break }
                heap[hole] = heap[parent]
                hole = parent
            }
            heap[hole] = moving
        }
    }

    /// Places `moving` at `start` (a hole) and sinks it to its place.
    private mutating func siftDown(_ moving: Entry, from start: Int) {
        entries.withUnsafeMutableBufferPointer { heap in
            let count = heap.count
            var hole = start
            while true {
                let firstChild = 4 * hole + 1
                if firstChild >= count { break }
                var best = firstChild
                let end = min(firstChild + 4, count)
                var child = firstChild + 1
                while child < end {
                    if TimerHeap.fires(heap[child], before: heap[best]) { best = child }
                    child += 1
                }
                guard TimerHeap.fires(heap[best], before: moving) else { break }
                heap[hole] = heap[best]
                hole = best
            }
            heap[hole] = moving
        }
    }

    /// Drops every removed entry and rebuilds the heap: O(n), amortised over the removals
    /// that made it due.
    private mutating func compact() {
        let sequences = self.sequences
        entries.removeAll { sequences[$0.slot] != $0.sequence }
        removedEntries = 0
        guard entries.count > 1 else { return }
        var index = (entries.count - 2) / 4
        while index >= 0 {
            siftDown(entries[index], from: index)
            index -= 1
        }
    }
}
