import WeaveCore

extension HubGroup {
    /// Runs `body` on every hub at once, each with that hub's own value (`values[i]` lives on
    /// hub `i`), and parks the caller until all have returned: how the group servers start,
    /// serve and stop their per-hub parts. The first error cancels the other hubs' calls and
    /// is rethrown; cancelling the caller cancels them all.
    func runOnEveryHub<Value>(
        _ values: [HubBound<Value>], name: String, _ body: @escaping @Sendable (Value) throws -> Void
    ) throws {
        try withCoroutineGroup { calls in
            for (index, value) in values.enumerated() {
                let member = hub(index)
                try calls.spawn(name: "\(name) on hub \(index)") {
                    try member.run(name: name) { try body(value.value) }
                }
            }
        }
    }
}
