import Weave
import WeaveMemcached
import WeaveTestSupport

/// Checks made on the hub's thread throw, so that the failure reaches the test through
/// `onHub` (Swift Testing's `#expect` records issues through the calling task).
func check(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw TestFailure("line \(line): \(message())") }
}

/// Runs `body` and returns the ``MemcachedError`` it throws; fails if it throws something
/// else, nothing, or an error of another code.
@discardableResult
func checkThrows<R>(_ code: MemcachedError.Code, line: Int = #line, _ body: () throws -> R) throws -> MemcachedError {
    do {
        let value = try body()
        throw TestFailure("line \(line): expected MemcachedError \(code), got \(value)")
    } catch let error as MemcachedError {
        if error.code != code { throw TestFailure("line \(line): expected \(code), got \(error)") }
        return error
    }
}

