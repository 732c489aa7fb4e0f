#if canImport(Glibc)
import Glibc
#endif

/// HTTP dates (IMF-fixdate, RFC 9110 section 5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`), for
/// `Date`, `Last-Modified` and `If-Modified-Since`.
public enum HTTPDate {
    private static let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months: [StaticString] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `secondsSince1970` (UTC) as an IMF-fixdate.
    public static func format(secondsSince1970: Int) -> String {
        String(decoding: bytes(secondsSince1970: secondsSince1970), as: UTF8.self)
    }

    /// The 29 bytes of the IMF-fixdate for `secondsSince1970`.
    static func bytes(secondsSince1970: Int) -> [UInt8] {
        var seconds = time_t(secondsSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out: [UInt8] = []
        out.reserveCapacity(29)
        func three(_ text: StaticString) { out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: 3)) }
        func two(_ value: Int32) {
            out.append(0x30 + UInt8(value / 10 % 10))
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
        return out
    }

    /// The seconds since 1970 (UTC) of an IMF-fixdate; nil for anything else (RFC 9110 lets
    /// a recipient ignore a date it cannot parse, such as the obsolete formats).
    public static func parse(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 29, bytes[3] == 0x2C, bytes[4] == 0x20, bytes[7] == 0x20, bytes[11] == 0x20,
              bytes[16] == 0x20, bytes[19] == 0x3A, bytes[22] == 0x3A, bytes[25] == 0x20,
              bytes[26...] == [0x47, 0x4D, 0x54][...]
        else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for index in range {
                guard bytes[index] >= 0x30 && bytes[index] <= 0x39 else { return nil }
                value = value * 10 + Int32(bytes[index] - 0x30)
            }
            return value
        }
        guard let day = number(5..<7), let year = number(12..<16), let hour = number(17..<19),
              let minute = number(20..<22), let second = number(23..<25),
              let month = months.firstIndex(where: { name in
                  bytes[8..<11].elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: 3))
              }),
              (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = Int32(month)
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int(timegm(&parts))
    }
}
