import CLibUV

/// A libuv call failed.
///
/// Keeps libuv's error name (`ECONNREFUSED`), the operation and its argument, so the
/// description reads `connect 127.0.0.1:9: ECONNREFUSED (connection refused)`.
public struct UVError: Error, CustomStringConvertible, Sendable {
    /// libuv's (negative) error code.
    public let code: Int32
    /// libuv's name for the code, such as `ECONNREFUSED`.
    public let name: String
    /// The operation that failed, such as `connect`.
    public let operation: String
    /// What it was applied to, such as an address or a path.
    public let argument: String?

    package init(_ code: Int32, operation: String, argument: String? = nil) {
        self.code = code
        self.name = String(cString: uv_err_name(code))
        self.operation = operation
        self.argument = argument
    }

    public var description: String {
        let what = argument.map { "\(operation) \($0)" } ?? operation
        return "\(what): \(name) (\(String(cString: uv_strerror(code))))"
    }
}
