import CMariaDB
import FoundationEssentials

/// Conversions between MySQL's calendar values and `Date` / `Duration`.
///
/// `DATE`, `DATETIME` and `TIMESTAMP` carry no time zone; Weave reads and writes them as UTC
/// (and sets the session's `time_zone` to UTC by default, see
/// ``MySQLConfiguration/timeZone``, so that `TIMESTAMP` columns round-trip exactly). `TIME`
/// is an interval (up to ±838:59:59), so it maps to `Duration`. Microseconds are kept.
enum MySQLTime {
    /// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`; nil for anything else, including the zero
    /// date `0000-00-00`, which is no instant.
    static func date(parsing bytes: [UInt8]) -> Date? {
        bytes.withUnsafeBufferPointer { date(parsing: $0) }
    }

    static func date(parsing text: UnsafeBufferPointer<UInt8>) -> Date? {
        var scanner = Scanner(text)
        guard let year = scanner.number(), scanner.skip(UInt8(ascii: "-")),
              let month = scanner.number(), scanner.skip(UInt8(ascii: "-")),
              let day = scanner.number(), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var seconds = 0
        var micros = 0
        if scanner.skip(UInt8(ascii: " ")) || scanner.skip(UInt8(ascii: "T")) {
            guard let hour = scanner.number(), scanner.skip(UInt8(ascii: ":")),
                  let minute = scanner.number(), scanner.skip(UInt8(ascii: ":")),
                  let second = scanner.number(), hour < 24, minute < 60, second < 60
            else { return nil }
            seconds = hour * 3600 + minute * 60 + second
            micros = scanner.fraction()
        }
        guard scanner.atEnd else { return nil }
        let total = (daysFromCivil(year: year, month: month, day: day) * 86_400 + seconds) * 1_000_000 + micros
        return Date(timeIntervalSince1970: Double(total) / 1_000_000)
    }

    /// Parses `[-]HHH:MM:SS[.ffffff]`.
    static func duration(parsing bytes: [UInt8]) -> Duration? {
        bytes.withUnsafeBufferPointer { text in
            var scanner = Scanner(text)
            let negative = scanner.skip(UInt8(ascii: "-"))
            guard let hour = scanner.number(), scanner.skip(UInt8(ascii: ":")),
                  let minute = scanner.number(), scanner.skip(UInt8(ascii: ":")),
                  let second = scanner.number(), minute < 60, second < 60
            else { return nil }
            let micros = scanner.fraction()
            guard scanner.atEnd else { return nil }
            let magnitude = Duration.seconds(hour * 3600 + minute * 60 + second) + .microseconds(micros)
            return negative ? .zero - magnitude : magnitude
        }
    }

    /// `date` as a `DATETIME` to bind, in UTC, to the microsecond.
    static func bound(_ date: Date) -> MYSQL_TIME {
        let micros = Int((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (days, micro) = micros.floorDivided(by: 86_400_000_000)
        let civil = civilFromDays(days)
        let seconds = micro / 1_000_000
        var time = MYSQL_TIME()
        time.year = UInt32(clamping: civil.year)
        time.month = UInt32(civil.month)
        time.day = UInt32(civil.day)
        time.hour = UInt32(seconds / 3600)
        time.minute = UInt32(seconds / 60 % 60)
        time.second = UInt32(seconds % 60)
        time.second_part = UInt(micro % 1_000_000)
        time.time_type = MYSQL_TIMESTAMP_DATETIME
        return time
    }

    /// `duration` as a `TIME` to bind, to the microsecond.
    static func bound(_ duration: Duration) -> MYSQL_TIME {
        let (seconds, attoseconds) = duration.components
        var micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        var time = MYSQL_TIME()
        if micros < 0 {
            time.neg = 1
            micros = -micros
        }
        let whole = micros / 1_000_000
        // The binary protocol carries days and hours apart.
        time.day = UInt32(clamping: whole / 86_400)
        time.hour = UInt32(whole / 3600 % 24)
        time.minute = UInt32(whole / 60 % 60)
        time.second = UInt32(whole % 60)
        time.second_part = UInt(micros % 1_000_000)
        time.time_type = MYSQL_TIMESTAMP_TIME
        return time
    }

    /// `2024-05-01 12:00:00` (UTC; `.ffffff` when there are microseconds), as MySQL writes it.
    static func text(of date: Date) -> String {
        let time = bound(date)
        let day = "\(time.year)-\(two(time.month))-\(two(time.day))"
        return "\(day) \(two(time.hour)):\(two(time.minute)):\(two(time.second))\(fraction(time.second_part))"
    }

    /// `-838:59:59` (`.ffffff` when there are microseconds), as MySQL writes a `TIME`.
    static func text(of duration: Duration) -> String {
        let time = bound(duration)
        let hours = time.day * 24 + time.hour
        return "\(time.neg != 0 ? "-" : "")\(two(hours)):\(two(time.minute)):\(two(time.second))\(fraction(time.second_part))"
    }

    private static func two(_ value: UInt32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func fraction(_ micros: UInt) -> String {
        guard micros != 0 else { return "" }
        let digits = String(micros)
        return "." + String(repeating: "0", count: 6 - digits.count) + digits
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (the usual era arithmetic: years
    /// start in March so the leap day comes last).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of ``daysFromCivil(year:month:day:)``.
    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Reads digits and separators off the text the server wrote.
    private struct Scanner {
        let text: UnsafeBufferPointer<UInt8>
        var index = 0

        init(_ text: UnsafeBufferPointer<UInt8>) { self.text = text }

        var atEnd: Bool { index == text.count }

        mutating func skip(_ byte: UInt8) -> Bool {
            guard index < text.count, text[index] == byte else { return false }
            index += 1
            return true
        }

        /// An unsigned decimal number (up to 9 digits).
        mutating func number() -> Int? {
            var value = 0
            let start = index
            while index < text.count, index - start < 9, case let digit = text[index] &- 48, digit < 10 {
                value = value * 10 + Int(digit)
                index += 1
            }
            return index > start ? value : nil
        }

        /// `.ffffff` as microseconds (0 when absent); digits past the sixth are dropped.
        mutating func fraction() -> Int {
            guard skip(UInt8(ascii: ".")) else { return 0 }
            var micros = 0
            var digits = 0
            while index < text.count, case let digit = text[index] &- 48, digit < 10 {
                if digits < 6 { micros = micros * 10 + Int(digit) }
                digits += 1
                index += 1
            }
            for _ in digits..<max(digits, 6) { micros *= 10 }
            return micros
        }
    }
}

extension Int {
    /// Division rounding toward minus infinity, with a remainder in `0..<divisor`.
    fileprivate func floorDivided(by divisor: Int) -> (quotient: Int, remainder: Int) {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }
}
