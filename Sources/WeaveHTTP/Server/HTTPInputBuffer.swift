/// The bytes a connection has read and not yet consumed: one allocation per connection,
/// reused from request to request, compacted (not reallocated) when the tail runs out.
struct HTTPInputBuffer: ~Copyable {
    /// Owned by this buffer; freed in `deinit`.
    private var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private var start = 0
    private var end = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var count: Int { end - start }
    var isEmpty: Bool { end == start }

    var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + start, count: end - start) }

    mutating func consume(_ count: Int) {
        start += count
        if start == end {
            start = 0
            end = 0
        }
    }

    /// Free space at the tail, at least `minimum` bytes: compacts, or grows to hold `minimum`
    /// more than what is buffered.
    mutating func tail(minimum: Int) -> UnsafeMutableRawBufferPointer {
        if capacity - end < minimum {
            let unread = end - start
            if capacity - unread >= minimum {
                if unread > 0 { base.copyMemory(from: base + start, byteCount: unread) }
            } else {
                let grown = max(capacity * 2, unread + minimum)
                let memory = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
                if unread > 0 { memory.copyMemory(from: base + start, byteCount: unread) }
                base.deallocate()
                base = memory
                capacity = grown
            }
            start = 0
            end = unread
        }
        return UnsafeMutableRawBufferPointer(start: base + end, count: capacity - end)
    }

    /// Marks `count` bytes written at the tail.
    mutating func commit(_ count: Int) { end += count }
}
