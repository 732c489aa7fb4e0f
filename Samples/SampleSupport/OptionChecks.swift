// Range checks for the samples' options, so that every sample words a bad value the same way
// (ArgumentParser prints the error with the usage line and exits with EX_USAGE).
import ArgumentParser

/// Throws a `ValidationError` naming `option` unless `value` is at least `minimum`.
public func require(_ option: String, _ value: Int, atLeast minimum: Int) throws {
    guard value >= minimum else {
        throw ValidationError("\(option) must be at least \(minimum), not \(value)")
    }
}

/// Throws a `ValidationError` naming `option` unless `value` lies in `range`.
public func require(_ option: String, _ value: Int, in range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
        throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound), not \(value)")
    }
}

/// Throws a `ValidationError` unless `port` is a TCP port number (0 asks for any free port).
public func requirePort(_ port: Int, option: String = "--port") throws {
    try require(option, port, in: 0...65535)
}
