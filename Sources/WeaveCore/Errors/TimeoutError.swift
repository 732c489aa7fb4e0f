/// A blocking call or a ``withTimeout(_:operation:fileID:line:_:)`` scope ran past its deadline.
///
/// The ``description`` names what timed out: the operation for a per-call deadline
/// (`join 'worker'`), or the scope and where it was opened for `withTimeout`.
public struct TimeoutError: Error, CustomStringConvertible, Sendable {
    /// What timed out: an operation such as `join 'worker'` or `sleep`, or `withTimeout` for a scope.
    public let operation: String
    /// The time that was allowed.
    public let timeout: Duration
    /// Where the `withTimeout` scope that fired was opened; nil for a per-call deadline.
    public let scope: SourceLocation?
    /// Identifies the scope so that only the scope that fired catches it.
    package let scopeID: UInt64

    package init(operation: String, timeout: Duration, scope: SourceLocation? = nil, scopeID: UInt64 = 0) {
        self.operation = operation
        self.timeout = timeout
        self.scope = scope
        self.scopeID = scopeID
    }

    public var description: String {
        if let scope { return "\(operation) timed out after \(timeout) (scope opened at \(scope))" }
        return "\(operation) timed out after \(timeout)"
    }
}
