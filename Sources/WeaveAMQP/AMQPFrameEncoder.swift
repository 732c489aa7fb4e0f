/// Appends AMQP 0-9-1 frames to a byte buffer that the connection reuses for every write,
/// so that encoding a publish allocates nothing once the buffer has grown.
///
/// A frame is opened with ``beginFrame(type:channel:)``, filled with the field writers and
/// closed with ``endFrame(_:)``, which patches in the payload size and the frame-end octet.
struct AMQPFrameEncoder {
    var buffer: [UInt8] = []

    init(capacity: Int = 0) {
        buffer.reserveCapacity(capacity)
    }

    /// Where an open frame's payload starts (its size is patched there on close).
    struct OpenFrame {
        let sizeOffset: Int
    }

    mutating func beginFrame(type: UInt8, channel: UInt16) -> OpenFrame {
        buffer.append(type)
        writeShort(channel)
        let offset = buffer.count
        writeLong(0)
        return OpenFrame(sizeOffset: offset)
    }

    mutating func endFrame(_ frame: OpenFrame) {
        let size = UInt32(buffer.count - frame.sizeOffset - 4)
        buffer[frame.sizeOffset] = UInt8(truncatingIfNeeded: size >> 24)
        buffer[frame.sizeOffset + 1] = UInt8(truncatingIfNeeded: size >> 16)
        buffer[frame.sizeOffset + 2] = UInt8(truncatingIfNeeded: size >> 8)
        buffer[frame.sizeOffset + 3] = UInt8(truncatingIfNeeded: size)
        buffer.append(AMQPFrameType.frameEnd)
    }

    /// A method frame: `encodeArguments` writes the method's fields after its class and method ids.
    mutating func method(channel: UInt16, _ id: AMQPMethodID, _ encodeArguments: (inout AMQPFrameEncoder) -> Void = { _ in }) {
        let frame = beginFrame(type: AMQPFrameType.method, channel: channel)
        writeShort(id.classID)
        writeShort(id.methodID)
        encodeArguments(&self)
        endFrame(frame)
    }

    /// The content header and body frames of a message, the body split at `maxBodyFrame` bytes.
    mutating func content(channel: UInt16, classID: UInt16, body: UnsafeRawBufferPointer,
                          properties: AMQPMessageProperties, maxBodyFrame: Int) {
        let header = beginFrame(type: AMQPFrameType.header, channel: channel)
        writeShort(classID)
        writeShort(0)
        writeLongLong(UInt64(body.count))
        properties.encode(into: &self)
        endFrame(header)
        var offset = 0
        while offset < body.count {
            let chunk = min(maxBodyFrame, body.count - offset)
            let frame = beginFrame(type: AMQPFrameType.body, channel: channel)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[offset..<(offset + chunk)]))
            endFrame(frame)
            offset += chunk
        }
    }

    mutating func heartbeat() {
        buffer.append(contentsOf: [AMQPFrameType.heartbeat, 0, 0, 0, 0, 0, 0, AMQPFrameType.frameEnd])
    }

    // MARK: - Fields

    mutating func writeOctet(_ value: UInt8) { buffer.append(value) }

    mutating func writeShort(_ value: UInt16) {
        buffer.append(UInt8(truncatingIfNeeded: value >> 8))
        buffer.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func writeLong(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    mutating func writeLongLong(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    /// Consecutive bit fields share an octet, the first in the lowest bit (no method has more
    /// than five; the unused high bits are zero). Not variadic: that would allocate an array
    /// on every publish.
    mutating func writeBits(_ b0: Bool, _ b1: Bool = false, _ b2: Bool = false, _ b3: Bool = false, _ b4: Bool = false) {
        var octet: UInt8 = b0 ? 1 : 0
        if b1 { octet |= 2 }
        if b2 { octet |= 4 }
        if b3 { octet |= 8 }
        if b4 { octet |= 16 }
        buffer.append(octet)
    }

    /// Turns the `basic.ack` frame at `offset` into an ack of every delivery up to
    /// `deliveryTag` (its tag replaced, its `multiple` bit set).
    mutating func rewriteAck(at offset: Int, deliveryTag: UInt64) {
        buffer.withUnsafeMutableBytes {
            $0.storeBytes(of: deliveryTag.bigEndian, toByteOffset: offset + 11, as: UInt64.self)
            $0[offset + 19] = 1
        }
    }

    /// A short string: at most 255 bytes (names, routing keys); longer is a programmer error.
    mutating func writeShortString(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            precondition(bytes.count <= 255, "AMQP short strings (names, routing keys, property values) are at most 255 bytes: \(String(decoding: bytes.prefix(40), as: UTF8.self))…")
            buffer.append(UInt8(bytes.count))
            buffer.append(contentsOf: bytes)
        }
    }

    mutating func writeLongString(_ text: String) {
        var text = text
        text.withUTF8 { writeLongString(bytes: UnsafeRawBufferPointer($0)) }
    }

    mutating func writeLongString(bytes: UnsafeRawBufferPointer) {
        writeLong(UInt32(bytes.count))
        buffer.append(contentsOf: bytes)
    }

    mutating func writeTable(_ table: AMQPFieldTable) {
        let start = buffer.count
        writeLong(0)
        // Sorted, so that equal tables encode to equal bytes (tests, and brokers comparing
        // arguments byte for byte have been seen).
        for key in table.keys.sorted() {
            writeShortString(key)
            writeFieldValue(table[key]!)
        }
        patchLong(at: start, UInt32(buffer.count - start - 4))
    }

    private mutating func patchLong(at offset: Int, _ value: UInt32) {
        buffer[offset] = UInt8(truncatingIfNeeded: value >> 24)
        buffer[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        buffer[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        buffer[offset + 3] = UInt8(truncatingIfNeeded: value)
    }

    mutating func writeFieldValue(_ value: AMQPFieldValue) {
        switch value {
        case .bool(let v): writeOctet(UInt8(ascii: "t")); writeOctet(v ? 1 : 0)
        case .int8(let v): writeOctet(UInt8(ascii: "b")); writeOctet(UInt8(bitPattern: v))
        case .uint8(let v): writeOctet(UInt8(ascii: "B")); writeOctet(v)
        case .int16(let v): writeOctet(UInt8(ascii: "s")); writeShort(UInt16(bitPattern: v))
        case .uint16(let v): writeOctet(UInt8(ascii: "u")); writeShort(v)
        case .int32(let v): writeOctet(UInt8(ascii: "I")); writeLong(UInt32(bitPattern: v))
        case .uint32(let v): writeOctet(UInt8(ascii: "i")); writeLong(v)
        case .int64(let v): writeOctet(UInt8(ascii: "l")); writeLongLong(UInt64(bitPattern: v))
        case .float(let v): writeOctet(UInt8(ascii: "f")); writeLong(v.bitPattern)
        case .double(let v): writeOctet(UInt8(ascii: "d")); writeLongLong(v.bitPattern)
        case .decimal(let scale, let v): writeOctet(UInt8(ascii: "D")); writeOctet(scale); writeLong(v)
        case .string(let v): writeOctet(UInt8(ascii: "S")); writeLongString(v)
        case .bytes(let v): writeOctet(UInt8(ascii: "x")); v.withUnsafeBytes { writeLongString(bytes: $0) }
        case .array(let values):
            writeOctet(UInt8(ascii: "A"))
            let start = buffer.count
            writeLong(0)
            for element in values { writeFieldValue(element) }
            patchLong(at: start, UInt32(buffer.count - start - 4))
        case .timestamp(let v): writeOctet(UInt8(ascii: "T")); writeLongLong(v)
        case .table(let v): writeOctet(UInt8(ascii: "F")); writeTable(v)
        case .void: writeOctet(UInt8(ascii: "V"))
        }
    }
}
