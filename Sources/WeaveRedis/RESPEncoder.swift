/// Writes commands in RESP (an array of bulk strings) into an output buffer, without
/// intermediate strings: lengths and integers are written digit by digit.
struct RESPEncoder {
    var buffer: [UInt8]

    init(buffer: [UInt8] = []) {
        self.buffer = buffer
    }

    /// Starts a command of `count` arguments (its name included).
    mutating func beginCommand(argumentCount count: Int) {
        buffer.append(UInt8(ascii: "*"))
        appendDecimal(count)
        appendCRLF()
    }

    mutating func append(_ argument: String) {
        var argument = argument
        argument.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func append(_ argument: StaticString) {
        append(UnsafeRawBufferPointer(start: argument.utf8Start, count: argument.utf8CodeUnitCount))
    }

    mutating func append(_ argument: [UInt8]) {
        argument.withUnsafeBytes { append($0) }
    }

    mutating func append(_ argument: Int) {
        // Longest Int: 20 characters.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            let count = Self.writeDecimal(argument, into: digits)
            append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[(20 - count)...]))
        }
    }

    mutating func append(_ argument: Double) {
        if argument == .infinity { append("+inf" as StaticString) }
        else if argument == -.infinity { append("-inf" as StaticString) }
        else { append(String(argument)) }
    }

    mutating func append(_ argument: UnsafeRawBufferPointer) {
        buffer.append(UInt8(ascii: "$"))
        appendDecimal(argument.count)
        appendCRLF()
        buffer.append(contentsOf: argument)
        appendCRLF()
    }

    private mutating func appendCRLF() {
        buffer.append(UInt8(ascii: "\r"))
        buffer.append(UInt8(ascii: "\n"))
    }

    private mutating func appendDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            buffer.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            let count = Self.writeDecimal(value, into: digits)
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
    }

    /// Writes `value` right-aligned into the 20 bytes of `digits`; returns how many it used.
    private static func writeDecimal(_ value: Int, into digits: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var magnitude = value.magnitude
        var position = 20
        repeat {
            position -= 1
            digits[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            position -= 1
            digits[position] = UInt8(ascii: "-")
        }
        return 20 - position
    }
}
