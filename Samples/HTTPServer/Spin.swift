// `GET /spin?us=N`: a CPU-bound route for measuring how a server scales over cores. The handler
// computes on the hub for N microseconds, as a blocking handler would, and answers with the
// result. The peers in Benchmarks/Peers/{go,nio}-http-spin run the same loop and answer the
// same bytes, so that their figures compare.
import Glibc

/// What a request for `/spin` asks for.
enum SpinQuery: Equatable {
    /// `us=N` with N in ``SpinQuery/range``.
    case microseconds(Int)
    /// `us` missing, not a whole number, or out of range: answered with 400.
    case invalid

    /// The durations accepted, in microseconds (up to one second: a request never holds a hub longer).
    static let range = 1...1_000_000

    /// The message of a 400 answer.
    static let invalidMessage = "us must be a whole number of microseconds from \(range.lowerBound) to \(range.upperBound)\n"

    /// The query of `target` (path and query) if its path is `/spin`; nil for any other path.
    init?(target: String) {
        let utf8 = target.utf8
        guard utf8.starts(with: "/spin".utf8) else { return nil }
        let rest = utf8.dropFirst(5)
        guard let first = rest.first else {
            self = .invalid
            return
        }
        guard first == UInt8(ascii: "?") else { return nil }  // "/spinach" is another path
        self = .invalid
        // name=value pairs separated by "&"; the first "us" counts.
        for parameter in rest.dropFirst().split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            guard parameter.starts(with: "us=".utf8) else { continue }
            let digits = parameter.dropFirst(3)
            var value = 0
            for digit in digits {
                // Past the upper bound there is no need to read on (and no overflow).
                guard digit >= 48 && digit <= 57, value <= SpinQuery.range.upperBound else { return }
                value = value * 10 + Int(digit - 48)
            }
            if !digits.isEmpty && SpinQuery.range.contains(value) { self = .microseconds(value) }
            return
        }
    }
}

/// Busy-computes for `microseconds` (a xorshift loop, the clock read every 256 rounds) and
/// returns the last value, which the response carries so that the loop cannot be optimised away.
func spin(microseconds: Int) -> UInt64 {
    let deadline = monotonicNanoseconds() + UInt64(microseconds) * 1000
    var value: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(microseconds)
    repeat {
        for _ in 0..<256 {
            value ^= value << 13
            value ^= value >> 7
            value ^= value << 17
        }
    } while monotonicNanoseconds() < deadline
    return value
}

/// `CLOCK_MONOTONIC` in nanoseconds (a vDSO call, no system call).
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The body of a spin answer: `value` as 16 lowercase hex digits and a newline.
func spinBody(_ value: UInt64) -> [UInt8] {
    var body: [UInt8] = []
    body.reserveCapacity(17)
    for shift in stride(from: 60, through: 0, by: -4) {
        let nibble = UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xF
        body.append(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
    }
    body.append(UInt8(ascii: "\n"))
    return body
}
