/// Runs `body` with a group whose children it joins before returning (structured
/// concurrency for coroutines).
///
/// The first child to throw cancels its siblings, and its error is rethrown once every
/// child has finished. If `body` throws, or the caller is cancelled or its timeout scope
/// expires while waiting, all children are cancelled and still waited for: no child ever
/// outlives the scope. Errors rank: the body's, then the interruption's, then the first child's.
///
/// ```swift
/// let pages = try withCoroutineGroup { group in
///     let fetches = try urls.map { url in try group.spawn { try fetch(url) } }
///     return try fetches.map { try $0.join() }
/// }
/// ```
public func withCoroutineGroup<R>(_ body: (CoroutineGroup) throws -> R) throws -> R {
    let parent = try AnyCoroutine.requireCurrent()
    let group = CoroutineGroup(parent: parent)
    let outcome = Result { try body(group) }
    if case .failure = outcome { group.cancelAll() }
    let interruption = group.waitForChildren()
    if case .failure(let error) = outcome { throw error }
    if let interruption { throw interruption }
    if let error = group.firstError { throw error }
    return try outcome.get()
}

/// The children of a ``withCoroutineGroup(_:)`` scope.
public final class CoroutineGroup {
    private let parent: AnyCoroutine
    private var children: [ObjectIdentifier: AnyCoroutine] = [:]
    private var cancelling = false
    private var waiter: Wakeup?
    /// The first error a child threw (cancellations the group caused do not count).
    public private(set) var firstError: (any Error)?

    init(parent: AnyCoroutine) {
        self.parent = parent
    }

    /// Children still running.
    public var count: Int { children.count }

    /// Spawns a child; see ``spawn(name:stackSize:fileID:line:_:)``.
    @discardableResult
    public func spawn<Value>(
        name: String? = nil,
        stackSize: Int? = nil,
        fileID: StaticString = #fileID,
        line: Int = #line,
        _ body: @escaping () throws -> Value
    ) throws -> Coroutine<Value> {
        let child = try parent.hub.spawn(name: name, stackSize: stackSize,
                                         spawnSite: SourceLocation(fileID: fileID, line: line), body)
        if cancelling { child.cancel() }
        children[ObjectIdentifier(child)] = child
        child.onFinish { [unowned self] done in self.childFinished(done) }
        return child
    }

    /// Cancels every running child.
    public func cancelAll() {
        cancelling = true
        for child in children.values { child.cancel() }
    }

    private func childFinished(_ child: AnyCoroutine) {
        children[ObjectIdentifier(child)] = nil
        if let error = child.failure, firstError == nil, !(cancelling && error is CancellationError) {
            firstError = error
            cancelAll()
        }
        if children.isEmpty { waiter?.fire() }
    }

    /// Parks until every child has finished, whatever happens; returns the first
    /// interruption (cancellation, expired scope) the parent absorbed meanwhile.
    func waitForChildren() -> (any Error)? {
        var interruption: (any Error)?
        if parent.isCancelled && !children.isEmpty {
            interruption = CancellationError()
            cancelAll()
        }
        let wake = Wakeup(parent)
        waiter = wake
        defer { wake.disarm(); waiter = nil }
        while !children.isEmpty {
            if let error = parent.parkUninterruptibly(.group) {
                if interruption == nil { interruption = error }
                cancelAll()
            }
        }
        return interruption
    }
}
