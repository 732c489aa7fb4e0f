import CWeaveContext

// A detached coroutine keeps its body at the top of its own stack, just below its fiber:
//
//     [payload: the body and its argument][invoker: 16 bytes][fiber]
//
// The invoker is a non-capturing function that knows the payload's type; it moves the
// payload out and runs it (or drops it unrun if the coroutine was cancelled first), then
// ends the coroutine itself. So the coroutine needs no Swift object, the body shares cache
// lines with the first frame, and few frames lie between the body and the final switch
// (each is a return the CPU mispredicts once the coroutine has switched out and back).

/// Runs (or drops) the payload of the fiber at the given address, then ends the coroutine.
@usableFromInline
struct DetachedInvoker {
    @usableFromInline
    var call: (_ fiber: UnsafeMutableRawPointer, _ cancelled: Bool) -> Never

    @inlinable
    init(_ call: @escaping (_ fiber: UnsafeMutableRawPointer, _ cancelled: Bool) -> Never) {
        self.call = call
    }

    @inlinable
    static func store(_ invoker: DetachedInvoker, below fiber: UnsafeMutablePointer<weave_fiber>) {
        (UnsafeMutableRawPointer(fiber) - 16).initializeMemory(as: DetachedInvoker.self, to: invoker)
    }
}

/// Bytes a payload of `size` and the invoker take below the fiber (16-byte aligned).
@inlinable
func detachedReserve(_ size: Int) -> Int { 16 + (size + 15) & ~15 }

/// The body of ``spawnDetached(name:stackSize:fileID:line:_:)``. (Wrapped in a struct so
/// that storing it through the generic pointer APIs keeps the closure as it is: a bare
/// function type would be re-abstracted, which allocates a thunk.)
struct DetachedBody {
    var run: () throws -> Void

    static var reservedBytes: Int { detachedReserve(MemoryLayout<DetachedBody>.size) }

    static func store(_ body: consuming DetachedBody, below fiber: UnsafeMutablePointer<weave_fiber>) {
        (UnsafeMutableRawPointer(fiber) - reservedBytes).initializeMemory(as: DetachedBody.self, to: body)
        DetachedInvoker.store(DetachedInvoker { fiber, cancelled in
            endDetached(fiber, run(fiber, cancelled))
        }, below: fiber)
    }

    /// Runs the body and returns its error; the body is released before this returns.
    @inline(__always)
    private static func run(_ fiber: UnsafeMutableRawPointer, _ cancelled: Bool) -> (any Error)? {
        // The closure itself, moved out (calling it through the struct copies it: a retain
        // and a release of its context around the call).
        let run = (fiber - reservedBytes).assumingMemoryBound(to: DetachedBody.self).move().run
        if cancelled { return CancellationError() }
        do {
            try run()
            return nil
        } catch {
            return error
        }
    }
}

/// The body and argument of ``spawnDetached(name:stackSize:fileID:line:with:_:)``.
@usableFromInline
struct DetachedPayload<Argument> {
    @usableFromInline var body: (Argument) throws -> Void
    @usableFromInline var argument: Argument

    @inlinable
    init(body: @escaping (Argument) throws -> Void, argument: consuming Argument) {
        self.body = body
        self.argument = argument
    }

    @inlinable
    static var reservedBytes: Int { detachedReserve(MemoryLayout<DetachedPayload>.size) }

    /// Small enough (and aligned loosely enough) to keep at the top of the stack.
    @inlinable
    static var fitsOnStack: Bool { MemoryLayout<DetachedPayload>.alignment <= 16 && reservedBytes <= 16 + 256 }

    @inlinable
    static func store(_ payload: consuming DetachedPayload, below fiber: UnsafeMutablePointer<weave_fiber>) {
        (UnsafeMutableRawPointer(fiber) - reservedBytes).initializeMemory(as: DetachedPayload.self, to: payload)
        DetachedInvoker.store(DetachedInvoker { fiber, cancelled in
            endDetached(fiber, run(fiber, cancelled))
        }, below: fiber)
    }

    /// Runs the body and returns its error; the payload is released before this returns.
    @inlinable @inline(__always)
    static func run(_ fiber: UnsafeMutableRawPointer, _ cancelled: Bool) -> (any Error)? {
        let payload = (fiber - reservedBytes).assumingMemoryBound(to: DetachedPayload.self).move()
        if cancelled { return CancellationError() }
        do {
            try payload.body(payload.argument)
            return nil
        } catch {
            return error
        }
    }
}

/// First activation of a detached coroutine: hands over to its invoker, which never returns.
let detachedEntry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    let fiber = raw.unsafelyUnwrapped.assumingMemoryBound(to: weave_fiber.self)
    let invoker = (raw.unsafelyUnwrapped - 16).assumingMemoryBound(to: DetachedInvoker.self).move()
    let cancelled = fiber.pointee.interrupts & WEAVE_INTERRUPT_CANCELLED != 0
    if !cancelled { fiber.pointee.state = WEAVE_FIBER_RUNNING }
    invoker.call(raw.unsafelyUnwrapped, cancelled)
}

/// Records a detached coroutine's outcome and makes its final switch. Everything that
/// holds a reference happens in a call that returns first: the final switch must come from
/// a frame that holds none.
@usableFromInline
func endDetached(_ fiber: UnsafeMutableRawPointer, _ failure: consuming (any Error)?) -> Never {
    let fiber = fiber.assumingMemoryBound(to: weave_fiber.self)
    if failure == nil, fiber.pointee.owner == nil {
        // The common end: nothing to record, nobody to tell.
        fiber.pointee.state = WEAVE_FIBER_FINISHED
    } else {
        finishDetached(fiber, failure)
    }
    weave_sched_exit(weave_sched_current())
}

@inline(never)
private func finishDetached(_ fiber: UnsafeMutablePointer<weave_fiber>, _ failure: consuming (any Error)?) {
    if let owner = fiber.pointee.owner {
        // Something asked for its object (a join, a report, cancellation): finish through it.
        let coroutine = Unmanaged<AnyCoroutine>.fromOpaque(owner).takeRetainedValue()
        coroutine.finishDetached(failure)
        fiber.pointee.owner = nil
        coroutine.fiber = nil
    } else {
        fiber.pointee.state = WEAVE_FIBER_FINISHED
        if let failure, !(failure is CancellationError) { logDetachedFailure(fiber, failure) }
    }
}

@inline(never)
private func logDetachedFailure(_ fiber: UnsafeMutablePointer<weave_fiber>, _ failure: any Error) {
    let file = UnsafeRawPointer(weave_fiber_spawn_file(fiber)).load(as: StaticString.self)
    let site = SourceLocation(fileID: file, line: Int(fiber.pointee.spawn_line))
    Hub.of(weave_sched_current().unsafelyUnwrapped).logger.error(
        "detached coroutine #\(fiber.pointee.id) spawned at \(site) failed: \(failure)")
}
