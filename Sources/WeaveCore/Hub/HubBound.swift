/// Carries an object that belongs to a hub's thread through a closure that crosses threads
/// (a job for the hub's ``RemoteQueue``, a Swift `Task`). Whoever holds it off the hub's
/// thread only passes it along: the value is touched on the hub's thread alone.
package struct HubBound<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}
