import WeaveCore

/// The compact, self-describing binary format that carries `Codable` values between
/// processes (task arguments, results, pipe and queue messages).
///
/// Every value starts with a one-byte tag, so a decoder can skip what it does not read
/// (keyed containers are looked up by name, in any order). Integers are LEB128 varints
/// (signed ones zig-zagged), floating point is little-endian IEEE 754, strings and byte
/// arrays are a varint length and the bytes, and containers run until an end tag. A typical
/// small task is a few bytes, and encoding it costs no intermediate tree and no JSON.
///
/// ```
/// nil        0x00
/// false      0x01
/// true       0x02
/// signed     0x03  zigzag(value):varint          Int, Int8 ... Int64
/// unsigned   0x04  value:varint                  UInt, UInt8 ... UInt64
/// float      0x05  bits:4 bytes, little-endian
/// double     0x06  bits:8 bytes, little-endian
/// string     0x07  length:varint  UTF-8 bytes
/// bytes      0x08  length:varint  bytes          [UInt8] only
/// array      0x09  value ...  0xFF               unkeyed containers, in order
/// map        0x0A  (key:length-prefixed UTF-8  value) ...  0xFF     keyed containers
/// ```
///
/// A value that encodes nothing at all is `nil`. A chunk of a pool's tasks (or their
/// outputs) is its values one after another, with no header: the frame says how many.
/// Scalars and arrays of scalars are written by the coder directly, and must be (and are
/// tested to be) byte for byte what their own `encode(to:)` would write.
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
}
