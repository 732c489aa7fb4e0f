/// Reads AMQP 0-9-1 fields from one frame's payload, throwing ``AMQPFrameError`` on
/// anything short or malformed. Borrows the bytes: valid only while the reader's buffer is.
struct AMQPFrameDecoder {
    let bytes: UnsafeRawBufferPointer
    private(set) var index = 0
    /// Bit fields left in the octet last read by ``readBit()``.
    private var bitOctet: UInt8 = 0
    private var bitIndex: UInt8 = 8

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - index }

    private mutating func need(_ count: Int, _ what: @autoclosure () -> String) throws(AMQPFrameError) {
        bitIndex = 8
        guard count <= bytes.count - index else {
            throw AMQPFrameError(.truncated, "\(what()) needs \(count) bytes, \(bytes.count - index) left")
        }
    }

    mutating func readOctet() throws(AMQPFrameError) -> UInt8 {
        try need(1, "an octet")
        defer { index += 1 }
        return bytes[index]
    }

    mutating func readShort() throws(AMQPFrameError) -> UInt16 {
        try need(2, "a short")
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    mutating func readLong() throws(AMQPFrameError) -> UInt32 {
        try need(4, "a long")
        defer { index += 4 }
        return bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self).bigEndian
    }

    mutating func readLongLong() throws(AMQPFrameError) -> UInt64 {
        try need(8, "a long long")
        defer { index += 8 }
        return bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self).bigEndian
    }

    /// The next bit field; consecutive bits share an octet, lowest bit first.
    mutating func readBit() throws(AMQPFrameError) -> Bool {
        if bitIndex >= 8 {
            let octet = try readOctet()
            bitOctet = octet
            bitIndex = 0
        }
        defer { bitIndex += 1 }
        return bitOctet & (1 << bitIndex) != 0
    }

    mutating func readShortString() throws(AMQPFrameError) -> String {
        let length = Int(try readOctet())
        return try readString(length, "a short string")
    }

    mutating func readLongString() throws(AMQPFrameError) -> String {
        let length = Int(try readLong())
        return try readString(length, "a long string")
    }

    mutating func readLongBytes() throws(AMQPFrameError) -> [UInt8] {
        let length = Int(try readLong())
        try need(length, "a byte array")
        defer { index += length }
        return Array(bytes[index..<(index + length)])
    }

    private mutating func readString(_ length: Int, _ what: String) throws(AMQPFrameError) -> String {
        try need(length, what)
        defer { index += length }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)])
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw AMQPFrameError(.invalidString, "\(what) of \(length) bytes is not UTF-8")
        }
        return text
    }

    mutating func readTable() throws(AMQPFrameError) -> AMQPFieldTable {
        let size = Int(try readLong())
        try need(size, "a field table")
        let end = index + size
        var table: AMQPFieldTable = [:]
        while index < end {
            let key = try readShortString()
            table[key] = try readFieldValue()
            guard index <= end else { throw AMQPFrameError(.truncated, "field '\(key)' runs past its table") }
        }
        return table
    }

    mutating func readFieldValue() throws(AMQPFrameError) -> AMQPFieldValue {
        let type = try readOctet()
        switch type {
        case UInt8(ascii: "t"): return .bool(try readOctet() != 0)
        case UInt8(ascii: "b"): return .int8(Int8(bitPattern: try readOctet()))
        case UInt8(ascii: "B"): return .uint8(try readOctet())
        case UInt8(ascii: "s"): return .int16(Int16(bitPattern: try readShort()))
        case UInt8(ascii: "u"): return .uint16(try readShort())
        case UInt8(ascii: "I"): return .int32(Int32(bitPattern: try readLong()))
        case UInt8(ascii: "i"): return .uint32(try readLong())
        case UInt8(ascii: "l"): return .int64(Int64(bitPattern: try readLongLong()))
        case UInt8(ascii: "f"): return .float(Float(bitPattern: try readLong()))
        case UInt8(ascii: "d"): return .double(Double(bitPattern: try readLongLong()))
        case UInt8(ascii: "D"):
            let scale = try readOctet()
            return .decimal(scale: scale, value: try readLong())
        case UInt8(ascii: "S"):
            // Long strings may be binary; text when they are UTF-8.
            let raw = try readLongBytes()
            if let text = String(validating: raw, as: UTF8.self) { return .string(text) }
            return .bytes(raw)
        case UInt8(ascii: "x"): return .bytes(try readLongBytes())
        case UInt8(ascii: "A"):
            let size = Int(try readLong())
            try need(size, "a field array")
            let end = index + size
            var values: [AMQPFieldValue] = []
            while index < end { values.append(try readFieldValue()) }
            guard index == end else { throw AMQPFrameError(.truncated, "a field array runs past its size") }
            return .array(values)
        case UInt8(ascii: "T"): return .timestamp(try readLongLong())
        case UInt8(ascii: "F"): return .table(try readTable())
        case UInt8(ascii: "V"): return .void
        default:
            throw AMQPFrameError(.unknownFieldType, "field type octet \(type) ('\(Character(Unicode.Scalar(type)))')")
        }
    }
}
