#if canImport(Glibc)
import Glibc
#endif

/// The `Date` field's value for now, formatted once a second per connection.
struct HTTPDateCache {
    private var second = -1
    private var bytes: [UInt8] = []

    /// Appends the IMF-fixdate of now; reformats when the second changed (`time` is a vDSO call).
    mutating func append(to output: inout HTTPOutputBuffer) {
        let now = time(nil)
        if now != second {
            second = now
            bytes = HTTPDate.bytes(secondsSince1970: now)
        }
        bytes.withUnsafeBytes { output.append(contentsOf: $0) }
    }
}
