import CWeaveContext
import Logging

// A detached coroutine keeps its body at the top of its own stack, just below its fiber:
//
//     [payload: the body and its argument][runner: 16 bytes][fiber]
//
// The runner is the payload's type, as a `DetachedRunnable` metatype: its `run` moves the
// payload out and runs it (or drops it unrun if the coroutine was cancelled first), then
// ends the coroutine itself. So the coroutine needs no Swift object, the body shares cache
// lines with the first frame, and few frames lie between the body and the final switch
// (each is a return the CPU mispredicts once the coroutine has switched out and back).
//
// The runner slot holds two plain words, never a reference, so `run` never returning leaks
// nothing: either the payload type as a `DetachedRunnable` metatype, or (for a
// `spawnDetached(with:)` payload in specialised code) a closure that captures nothing,
// whose context word is nil. The closure runs the payload's code specialised for its
// argument type; the metatype's witness is generic, and slower. (A closure in unspecialised
// code carries type metadata in a context, and debug builds give even a non-capturing one a
// thunk context: such a closure is not stored, the metatype is.)

/// What runs a detached coroutine's payload: two words, copied in and out as they are.
@usableFromInline
struct DetachedRunner {
    @usableFromInline let first: UnsafeRawPointer
    @usableFromInline let second: UnsafeRawPointer?

    @inlinable
    init(first: UnsafeRawPointer, second: UnsafeRawPointer?) {
        self.first = first
        self.second = second
    }

    /// `run` if it captures nothing (its context word is nil), else `type`'s metatype.
    @inlinable
    static func of<Payload: DetachedRunnable>(
        _ type: Payload.Type, preferring run: @escaping (UnsafeMutableRawPointer, Bool) -> Never
    ) -> DetachedRunner {
        let closure = unsafeBitCast(run, to: (UnsafeRawPointer, UnsafeRawPointer?).self)
        if closure.1 == nil { return DetachedRunner(first: closure.0, second: nil) }
        return of(type)
    }

    /// `type`'s metatype.
    @inlinable
    static func of<Payload: DetachedRunnable>(_ type: Payload.Type) -> DetachedRunner {
        let metatype = unsafeBitCast(type as any DetachedRunnable.Type, to: (UnsafeRawPointer, UnsafeRawPointer?).self)
        return DetachedRunner(first: metatype.0, second: metatype.1)
    }

    /// Whether this is a context-free closure (a metatype's second word, its witness
    /// table, is never nil).
    @inlinable
    var isClosure: Bool { second == nil }

    /// Runs the payload below `fiber`; never returns.
    func run(below fiber: UnsafeMutableRawPointer, cancelled: Bool) -> Never {
        if isClosure {
            let run = unsafeBitCast((first, second), to: ((UnsafeMutableRawPointer, Bool) -> Never).self)
            run(fiber, cancelled)
        }
        let type = unsafeBitCast((first, second), to: (any DetachedRunnable.Type).self)
        type.run(below: fiber, cancelled: cancelled)
    }
}

/// A payload type kept below a detached coroutine's fiber.
@usableFromInline
protocol DetachedRunnable {
    /// Moves the payload below `fiber` out and runs it (drops it unrun when `cancelled`),
    /// then ends the coroutine.
    static func run(below fiber: UnsafeMutableRawPointer, cancelled: Bool) -> Never
}

extension DetachedRunnable {
    /// Bytes the payload and the runner take below the fiber (16-byte aligned).
    @inlinable
    static var reservedBytes: Int { 16 + (MemoryLayout<Self>.size + 15) & ~15 }

    /// Writes the payload and its runner below `fiber` (which has `reservedBytes` free there).
    @inlinable
    static func store(_ payload: consuming Self, runner: DetachedRunner, below fiber: UnsafeMutablePointer<weave_fiber>) {
        let top = UnsafeMutableRawPointer(fiber)
        (top - reservedBytes).initializeMemory(as: Self.self, to: payload)
        (top - 16).initializeMemory(as: DetachedRunner.self, to: runner)
    }
}

/// Runs a detached body (unless the coroutine was cancelled before it started) and returns
/// what it threw.
@inlinable @inline(__always)
func detachedOutcome(cancelled: Bool, _ body: () throws -> Void) -> (any Error)? {
    if cancelled { return CancellationError() }
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// The body of ``spawnDetached(name:stackSize:fileID:line:_:)``. (Wrapped in a struct so
/// that storing it through the generic pointer APIs keeps the closure as it is: a bare
/// function type would be re-abstracted, which allocates a thunk.)
struct DetachedBody: DetachedRunnable {
    var run: () throws -> Void

    static func run(below fiber: UnsafeMutableRawPointer, cancelled: Bool) -> Never {
        endDetached(fiber, outcome(fiber, cancelled))
    }

    /// Runs the body and returns its error; the body is released before this returns.
    @inline(__always)
    private static func outcome(_ fiber: UnsafeMutableRawPointer, _ cancelled: Bool) -> (any Error)? {
        // The closure itself, moved out (calling it through the struct copies it: a retain
        // and a release of its context around the call).
        let run = (fiber - reservedBytes).assumingMemoryBound(to: DetachedBody.self).move().run
        return detachedOutcome(cancelled: cancelled) { try run() }
    }
}

/// The body and argument of ``spawnDetached(name:stackSize:fileID:line:with:_:)``.
@usableFromInline
struct DetachedPayload<Argument>: DetachedRunnable {
    @usableFromInline var body: (Argument) throws -> Void
    @usableFromInline var argument: Argument

    @inlinable
    init(body: @escaping (Argument) throws -> Void, argument: consuming Argument) {
        self.body = body
        self.argument = argument
    }

    /// Small enough (and aligned loosely enough) to keep at the top of the stack.
    @inlinable
    static var fitsOnStack: Bool { MemoryLayout<DetachedPayload>.alignment <= 16 && reservedBytes <= 16 + 256 }

    @usableFromInline
    static func run(below fiber: UnsafeMutableRawPointer, cancelled: Bool) -> Never {
        endDetached(fiber, outcome(fiber, cancelled))
    }

    /// The runner: in specialised code a closure that captures nothing, so the payload
    /// runs specialised; else this type's metatype.
    @inlinable
    static var runner: DetachedRunner {
        DetachedRunner.of(DetachedPayload.self, preferring: { fiber, cancelled in
            endDetached(fiber, outcome(fiber, cancelled))
        })
    }

    /// Runs the body and returns its error; the payload is released before this returns.
    @inlinable @inline(__always)
    static func outcome(_ fiber: UnsafeMutableRawPointer, _ cancelled: Bool) -> (any Error)? {
        let payload = (fiber - reservedBytes).assumingMemoryBound(to: DetachedPayload.self).move()
        return detachedOutcome(cancelled: cancelled) { try payload.body(payload.argument) }
    }
}

/// First activation of a detached coroutine: hands over to its payload's runner, which
/// never returns.
let detachedEntry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    let fiber = raw.unsafelyUnwrapped.assumingMemoryBound(to: weave_fiber.self)
    let runner = (raw.unsafelyUnwrapped - 16).load(as: DetachedRunner.self)
    let cancelled = fiber.pointee.interrupts & WEAVE_INTERRUPT_CANCELLED != 0
    fiber.pointee.state = WEAVE_FIBER_RUNNING
    runner.run(below: raw.unsafelyUnwrapped, cancelled: cancelled)
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
    // Logged first, while the coroutine is still live: a log handler may block, or ask for
    // the current coroutine (which makes its object).
    if let failure, !(failure is CancellationError) { logDetachedFailure(fiber, failure) }
    if let owner = fiber.pointee.owner {
        // Something asked for its object (a join, a report, cancellation, the log handler):
        // finish through it.
        let coroutine = Unmanaged<AnyCoroutine>.fromOpaque(owner).takeRetainedValue()
        coroutine.complete(failing: failure)
        // (Finished again: a finish handler may have suspended in between.)
        fiber.pointee.state = WEAVE_FIBER_FINISHED
        fiber.pointee.owner = nil
        coroutine.fiber = nil
    } else {
        // Nothing runs between the test above and this: no object can appear any more.
        fiber.pointee.state = WEAVE_FIBER_FINISHED
    }
}

@inline(never)
private func logDetachedFailure(_ fiber: UnsafeMutablePointer<weave_fiber>, _ failure: any Error) {
    let file = UnsafeRawPointer(weave_fiber_spawn_file(fiber)).load(as: StaticString.self)
    let site = SourceLocation(fileID: file, line: Int(fiber.pointee.spawn_line))
    let name = fiber.pointee.owner.map { Unmanaged<AnyCoroutine>.fromOpaque($0).takeUnretainedValue().displayName }
        ?? "#\(fiber.pointee.id)"
    let hub = Hub.of(weave_sched_current().unsafelyUnwrapped)
    let metadata: Logger.Metadata = ["coroutine": "\(name)", "spawnSite": "\(site)", "error": "\(failure)"]
    // Nobody holds a handle to see this error, so the first one a hub sees is a warning;
    // the rest go to debug, so a failing loop of spawns cannot flood the log.
    if hub.warnedDetachedFailure {
        hub.logger.debug("detached coroutine failed", metadata: metadata)
    } else {
        hub.warnedDetachedFailure = true
        hub.logger.warning("detached coroutine failed (further failures on this hub are logged at debug level)", metadata: metadata)
    }
}
