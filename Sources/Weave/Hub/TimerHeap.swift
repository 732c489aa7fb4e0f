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
    struct Entry {
        var deadline: UInt64
        var sequence: UInt32
        var slot: UInt32
    }

    private struct Record {
        /// The sequence of the timer that owns the slot; 0 while the slot is free.
        var sequence: UInt32 = 0
        var action: TimerNode.Action?
    }

    private var entries: [Entry] = []
    private var records: [Record] = []
    private var freeSlots: [UInt32] = []
    private var lastSequence: UInt32 = 0
    /// Entries in `entries` whose timer was removed.
    private var removedEntries = 0

    /// Live timers.
    var count: Int { entries.count - removedEntries }
    var isEmpty: Bool { count == 0 }

    /// Schedules `action` at `deadline` (`uv_hrtime()` nanoseconds).
    mutating func insert(deadline: UInt64, _ action: TimerNode.Action) -> TimerNode {
        lastSequence &+= 1
        if lastSequence == 0 { lastSequence = 1 }
        let slot: UInt32
        if let free = freeSlots.popLast() {
            slot = free
            records[Int(slot)] = Record(sequence: lastSequence, action: action)
        } else {
            slot = UInt32(records.count)
            records.append(Record(sequence: lastSequence, action: action))
        }
        entries.append(Entry(deadline: deadline, sequence: lastSequence, slot: slot))
        siftUp(entries.count - 1)
        return TimerNode(slot: slot, sequence: lastSequence)
    }

    /// Removes the timer if it is still pending; returns whether it was.
    @discardableResult
    mutating func remove(_ node: TimerNode) -> Bool {
        let slot = Int(node.slot)
        guard slot < records.count, records[slot].sequence == node.sequence else { return false }
        free(slot)
        removedEntries += 1
        if removedEntries > 64 && removedEntries > entries.count / 2 { compact() }
        return true
    }

    /// The earliest live deadline, and whether its action interrupts a coroutine (anything
    /// but a plain wake-up); drops removed entries found on top.
    mutating func first() -> (deadline: UInt64, interrupts: Bool)? {
        while let top = entries.first {
            let record = records[Int(top.slot)]
            if record.sequence == top.sequence {
                if case .wake = record.action.unsafelyUnwrapped { return (top.deadline, false) }
                return (top.deadline, true)
            }
            removeTop()
            removedEntries -= 1
        }
        return nil
    }

    /// Takes the earliest live timer's action out of the heap.
    mutating func popFirst() -> TimerNode.Action? {
        guard first() != nil else { return nil }
        let slot = Int(entries[0].slot)
        let action = records[slot].action
        removeTop()
        free(slot)
        return action
    }

    /// Removes every timer (at hub shutdown); returns how many were pending.
    @discardableResult
    mutating func removeAll() -> Int {
        let live = count
        entries.removeAll()
        records.removeAll()
        freeSlots.removeAll()
        removedEntries = 0
        return live
    }

    /// The live deadlines in firing order (tests only: O(n log n)).
    func liveDeadlinesInOrder() -> [UInt64] {
        entries.filter { records[Int($0.slot)].sequence == $0.sequence }.sorted(by: TimerHeap.fires).map(\.deadline)
    }

    // MARK: - Heap

    @inline(__always)
    private static func fires(_ a: Entry, before b: Entry) -> Bool {
        // Sequences wrap: compared by their difference (live timers span far fewer than 2^31).
        a.deadline < b.deadline || (a.deadline == b.deadline && Int32(bitPattern: a.sequence &- b.sequence) < 0)
    }

    private mutating func free(_ slot: Int) {
        records[slot] = Record()
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
        let records = self.records
        entries.removeAll { records[Int($0.slot)].sequence != $0.sequence }
        removedEntries = 0
        guard entries.count > 1 else { return }
        var index = (entries.count - 2) / 4
        while index >= 0 {
            siftDown(entries[index], from: index)
            index -= 1
        }
    }
}
