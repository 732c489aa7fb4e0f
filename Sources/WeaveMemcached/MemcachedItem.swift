/// A value read with its CAS token and client flags (``MemcachedClient/getItem(_:)``).
public struct MemcachedItem: Sendable, Hashable {
    /// The stored bytes.
    public var value: [UInt8]
    /// The item's compare-and-swap token: pass it to ``MemcachedClient/set(_:_:ttl:flags:cas:)-(_,[UInt8],_,_,_)``
    /// to store only if nobody changed the item since.
    public var cas: UInt64
    /// The 32 bits of client flags stored with the value.
    public var flags: UInt32

    /// Makes an item (tests and caches that hold items).
    public init(value: [UInt8], cas: UInt64, flags: UInt32 = 0) {
        self.value = value
        self.cas = cas
        self.flags = flags
    }

    /// The value decoded as UTF-8 (invalid sequences become U+FFFD).
    public var string: String { String(decoding: value, as: UTF8.self) }
}
