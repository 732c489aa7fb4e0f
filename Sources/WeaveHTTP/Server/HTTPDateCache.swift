#if canImport(Glibc)
import Glibc
#endif

/// The `Date` field's value for now, formatted once a second per connection.
struct HTTPDateCache {
    private var second = -1
    private var bytes: [UInt8] = []

    /// The IMF-fixdate of now; reformats when the second changed (`time` is a vDSO call).
    mutating func current() -> [UInt8] {
        let now = time(nil)
        if now != second {
            second = now
            bytes = HTTPDate.bytes(secondsSince1970: now)
        }
        return bytes
    }
}
