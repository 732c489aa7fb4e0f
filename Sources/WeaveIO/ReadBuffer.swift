import WeaveCore

/// The bytes a stream has read ahead of its consumer: one contiguous, reusable allocation
/// that libuv reads straight into (no allocation per message in steady state).
package struct ReadBuffer {
    // The accessors are inlinable into the process layer's frame reader, which calls them
    // per frame; so the storage is usable from inlinable code.
    @usableFromInline private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    @usableFromInline var start = 0
    @usableFromInline var end = 0

    package init() {}

    /// Bytes ready to be consumed.
    @inlinable package var count: Int { end - start }
    @inlinable package var isEmpty: Bool { end == start }

    @inlinable package var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { $0 + start }, count: end - start)
    }

    /// Space for libuv to read into, at least `minimum` bytes (compacting or growing).
    package mutating func reserveTail(minimum: Int) -> UnsafeMutableRawBufferPointer {
        if capacity - end < minimum {
            if start > 0 && capacity - (end - start) >= minimum {
                // Move the unread bytes to the front rather than grow.
                base.unsafelyUnwrapped.copyMemory(from: base.unsafelyUnwrapped + start, byteCount: end - start)
                end -= start
                start = 0
            } else {
                let grown = max(capacity * 2, (end - start) + minimum, 4096)
                let memory = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
                if let base {
                    memory.copyMemory(from: base + start, byteCount: end - start)
                    base.deallocate()
                }
                base = memory
                capacity = grown
                end -= start
                start = 0
            }
        }
        return UnsafeMutableRawBufferPointer(start: base.unsafelyUnwrapped + end, count: capacity - end)
    }

    /// Marks `count` bytes written at the tail.
    @inlinable package mutating func commit(_ count: Int) {
        end += count
    }

    /// Drops `count` bytes from the front.
    @inlinable package mutating func consume(_ count: Int) {
        start += count
        if start == end {
            start = 0
            end = 0
        }
    }

    /// Index of `byte` within the readable bytes, searching from `offset`.
    func firstIndex(of byte: UInt8, from offset: Int = 0) -> Int? {
        let bytes = readable
        guard offset < bytes.count else { return nil }
        return bytes[offset...].firstIndex(of: byte)
    }

    package mutating func deallocate() {
        base?.deallocate()
        base = nil
        capacity = 0
        start = 0
        end = 0
    }
}
