#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte classes of RFC 9110/9112's grammar, as bit tests (no tables to initialise).
package enum HTTPBytes {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09

    /// `tchar`: the bytes of a token (method, field name, transfer coding).
    @inline(__always)
    static func isToken(_ byte: UInt8) -> Bool {
        // Bit n of the low word is byte n (0-63), of the high word byte 64+n.
        let low: UInt64 = 0x03FF_6CFA_0000_0000
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        if byte < 64 { return (low >> UInt64(byte)) & 1 != 0 }
        if byte < 128 { return (high >> UInt64(byte - 64)) & 1 != 0 }
        return false
    }

    /// A byte of a field value or reason phrase: `field-vchar`, `obs-text`, SP or HTAB.
    @inline(__always)
    static func isFieldValue(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    /// A byte of a request target: visible ASCII (no space, control or non-ASCII byte).
    @inline(__always)
    static func isTarget(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// The value of a hexadecimal digit, or nil.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte &- 0x30)
        case 0x41...0x46: Int(byte &- 0x41 &+ 10)
        case 0x61...0x66: Int(byte &- 0x61 &+ 10)
        default: nil
        }
    }

    /// Whether `bytes[range]` equals `lowercase` ignoring ASCII case; `lowercase` holds
    /// only lowercase letters, digits and `-`.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard range.count == count else { return false }
        let text = lowercase.utf8Start
        var index = 0
        while index < count {
            let expected = text[index]
            let byte = bytes[range.lowerBound &+ index]
            // Only letters fold (OR 0x20 maps A-Z onto a-z); anything else must match exactly.
            if expected >= 0x61 && expected <= 0x7A {
                if byte | 0x20 != expected { return false }
            } else if byte != expected {
                return false
            }
            index &+= 1
        }
        return true
    }

    /// Whether `bytes[range]` equals `text` exactly.
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard range.count == count else { return false }
        return memcmp(bytes.baseAddress.unsafelyUnwrapped + range.lowerBound, text.utf8Start, count) == 0
    }

    /// The index of the first `byte` in `bytes[from..<to]`, or nil (memchr).
    @inline(__always)
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(byte), to - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// `bytes[range]` as a String (the bytes were validated as ASCII or Latin-1 text before).
    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
