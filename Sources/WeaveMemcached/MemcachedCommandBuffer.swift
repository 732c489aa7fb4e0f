/// The bytes of the next command(s), built in a buffer each connection reuses: no
/// allocation per command in steady state.
struct MemcachedCommandBuffer {
    private(set) var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(512)
    }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ byte: UInt8) {
        bytes.append(byte)
    }

    mutating func append(bytes other: some Collection<UInt8>) {
        bytes.append(contentsOf: other)
    }

    /// ` <letter><number>`: a flag with a decimal argument.
    mutating func appendFlag(_ letter: Character, _ value: Int64) {
        bytes.append(UInt8(ascii: " "))
        bytes.append(letter.asciiValue.unsafelyUnwrapped)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude)
    }

    mutating func appendFlag(_ letter: Character, _ value: UInt64) {
        bytes.append(UInt8(ascii: " "))
        bytes.append(letter.asciiValue.unsafelyUnwrapped)
        appendDecimal(value)
    }

    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        // Digits come out last first: write them into a small stack buffer, then append.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = value
            var index = 20
            while remaining > 0 {
                index -= 1
                digits[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[index...]))
        }
    }
}
