/// Where encoders append bytes: a plain `[UInt8]`, or an ``HTTPOutputBuffer``.
package protocol HTTPByteSink: ~Copyable {
    mutating func append(_ byte: UInt8)
    mutating func append(contentsOf bytes: UnsafeRawBufferPointer)
}

extension Array: HTTPByteSink where Element == UInt8 {}

/// A growable byte buffer for outgoing messages: one allocation reused from message to
/// message, with no copy-on-write or uniqueness checks on the append path (which a
/// server appends to dozens of times per response).
package struct HTTPOutputBuffer: ~Copyable, HTTPByteSink {
    /// Owned by this buffer; freed in `deinit`.
    private var base: UnsafeMutableRawPointer
    private(set) package var capacity: Int
    private(set) package var count = 0

    package init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    package var isEmpty: Bool { count == 0 }

    /// The bytes appended so far.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Forgets the contents, keeping the memory.
    package mutating func removeAll() { count = 0 }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private mutating func grow(_ needed: Int) {
        let grown = max(capacity * 2, needed)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
        memory.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = memory
        capacity = grown
    }

    @inline(__always)
    package mutating func append(_ byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    package mutating func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    package mutating func append(_ text: StaticString) {
        append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends `text` as UTF-8.
    package mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: UnsafeRawBufferPointer($0)) }
    }

    /// Appends `value` (not negative) in decimal.
    package mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0, "a negative number in an HTTP message")
        if value < 10 {
            append(0x30 + UInt8(value))
            return
        }
        var digits = 0
        var rest = value
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        reserve(digits)
        rest = value
        var index = count + digits
        while rest > 0 {
            index -= 1
            base.storeBytes(of: 0x30 + UInt8(rest % 10), toByteOffset: index, as: UInt8.self)
            rest /= 10
        }
        count += digits
    }
}
