/// A value bound per coroutine, like `TaskLocal` for tasks (which does not follow
/// coroutines).
///
/// ```swift
/// static let requestID = CoroutineLocal<String>(default: "-")
/// try requestID.withValue("r-42") { try handle(request) }   // handle() and what it spawns see "r-42"
/// ```
///
/// Coroutines spawned inside a binding inherit it. Outside any coroutine the value is the
/// default and `withValue` binds nothing.
public final class CoroutineLocal<Value: Sendable>: Sendable {
    private let defaultValue: Value

    public init(default defaultValue: Value) {
        self.defaultValue = defaultValue
    }

    /// The value bound in the current coroutine, or the default.
    public var value: Value {
        guard let bound = AnyCoroutine.current?.locals[ObjectIdentifier(self)] else { return defaultValue }
        return bound as! Value
    }

    /// Binds `value` for the duration of `operation` in the current coroutine.
    public func withValue<R>(_ value: Value, operation: () throws -> R) rethrows -> R {
        guard let coroutine = AnyCoroutine.current else { return try operation() }
        let key = ObjectIdentifier(self)
        let previous = coroutine.locals.updateValue(value, forKey: key)
        defer { coroutine.locals[key] = previous }
        return try operation()
    }
}
