import WeaveCore

/// The compact, self-describing binary format that carries `Codable` values between
/// processes (task arguments, results, pipe and queue messages).
///
/// Every value starts with a one-byte tag, so a decoder can skip what it does not read
/// (keyed containers are looked up by name, in any order). Integers are LEB128 varints
/// (signed ones zig-zagged), floating point is little-endian IEEE 754, strings and byte
/// arrays are a varint length and the bytes, and containers run until an end tag. A typical
/// small task is a few bytes, and encoding it costs no intermediate tree and no JSON.
enum BinaryFormat {
    static let null: UInt8 = 0
    static let `false`: UInt8 = 1
    static let `true`: UInt8 = 2
    static let signed: UInt8 = 3
    static let unsigned: UInt8 = 4
    static let float: UInt8 = 5
    static let double: UInt8 = 6
    static let string: UInt8 = 7
    static let bytes: UInt8 = 8
    static let array: UInt8 = 9
    static let map: UInt8 = 10
    static let end: UInt8 = 0xFF

    /// Nesting deeper than this is refused while decoding: a malformed or hostile frame
    /// must not exhaust the coroutine's stack.
    static let maximumDepth = 256

    /// `[UInt8].self`, looked up once: the coders compare every generic value's type with
    /// it, and spelling `[UInt8].self` in unspecialized code asks the runtime each time.
    static let byteArrayType: Any.Type = [UInt8].self
}
