#if canImport(Glibc)
import Glibc
#endif

/// The `Date` field's value (IMF-fixdate, RFC 9110 section 5.6.7), formatted once a second.
struct HTTPDateCache {
    private var second = -1
    /// "Sun, 06 Nov 1994 08:49:37 GMT": always 29 bytes.
    private(set) var bytes = [UInt8](repeating: 0x20, count: 29)

    /// The value for now; reformats when the second changed (`time` is a vDSO call).
    mutating func current() -> [UInt8] {
        let now = time(nil)
        if now != second {
            second = now
            format(now)
        }
        return bytes
    }

    private mutating func format(_ now: Int) {
        var seconds = time_t(now)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var out: [UInt8] = []
        out.reserveCapacity(29)
        func three(_ text: StaticString) { out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: 3)) }
        func two(_ value: Int32) {
            out.append(0x30 + UInt8(value / 10))
            out.append(0x30 + UInt8(value % 10))
        }
        three(days[Int(parts.tm_wday)])
        out.append(contentsOf: [0x2C, 0x20])  // ", "
        two(parts.tm_mday)
        out.append(0x20)
        three(months[Int(parts.tm_mon)])
        out.append(0x20)
        let year = parts.tm_year + 1900
        two(year / 100)
        two(year % 100)
        out.append(0x20)
        two(parts.tm_hour)
        out.append(0x3A)
        two(parts.tm_min)
        out.append(0x3A)
        two(parts.tm_sec)
        out.append(contentsOf: [0x20, 0x47, 0x4D, 0x54])  // " GMT"
        bytes = out
    }
}
