import Glibc
import WeaveCore

/// One end of a duplex pipe between a parent and a child process, carrying `Codable`
/// values and raw byte messages (Python's `multiprocessing.Pipe()` connection).
///
/// ```swift
/// let (parentEnd, childEnd) = try ProcessPipe.makePair()
/// let child = try ChildProcess(Greeter(pipe: childEnd))   // the end travels in the task
/// try parentEnd.send("hello")
/// let answer = try parentEnd.receive(String.self, timeout: .seconds(5))
/// ```
///
/// An end is a socket of a `socketpair`. An end that has not been used yet can be put
/// into a task given to ``ChildProcess``: encoding it there hands its descriptor to the
/// child (see ``ChildProcess``), and the parent's copy is closed once the child started,
/// so the parent sees end of stream when the child exits. Such an end cannot be used in
/// the parent any more; encoding an end anywhere else throws.
///
/// Each message is one frame of at most ``maximumFrameSize`` bytes. A bigger frame from
/// the peer ends the pipe with ``ProcessError/Code/frameTooLarge`` (before any of it is
/// buffered); a frame that does not decode as the type asked for is a
/// ``ProcessError/Code/malformedFrame`` (that message is consumed, the pipe stays usable).
/// Messages that arrive are buffered until received, up to about 1 MiB (plus one
/// message): past that, this end stops reading and the peer's `send` parks until the
/// receiver catches up. An end belongs to the hub that first uses it, and is closed when it
/// is deinitialised or at that hub's shutdown. It is not `Sendable`: use it on that hub's
/// thread only (a use from another thread, after a `sending` transfer, traps).
public final class ProcessPipe: Codable, CustomStringConvertible {
    private enum State {
        /// Not yet opened on a hub: the raw descriptor, which may still be sent to a child.
        case unopened(Int32)
        case open(FrameChannel)
        /// Handed to child `pid`.
        case sent(Int32)
        case closed
    }

    /// The largest message, in bytes, this end sends or accepts.
    public let maximumFrameSize: Int
    private var state: State
    /// Messages received and not yet taken: (kind, bytes).
    private var inbox: [(UInt8, [UInt8])] = []
    private var inboxHead = 0
    /// Bytes in `inbox`; reading pauses above ``bufferLimit`` and resumes below half of it.
    private var bufferedBytes = 0
    /// How much a slow receiver buffers before the sender is made to wait (one message of
    /// any allowed size is always accepted).
    static let bufferLimit = 1 << 20
    private var ended = false
    private var endError: (any Error)?
    private let arrived = Event(label: "ProcessPipe receive")
    /// The hub the end was opened on: every later use must come from its thread.
    private var affinity = HubAffinity()

    /// The default maximum message size: 16 MiB.
    public static let defaultMaximumFrameSize = 16 << 20

    private static let valueKind: UInt8 = 1
    private static let bytesKind: UInt8 = 2

    private init(fd: Int32, maximumFrameSize: Int) {
        self.state = .unopened(fd)
        self.maximumFrameSize = maximumFrameSize
    }

    /// Creates a connected pair of ends; give one to a child inside its task.
    ///
    /// - Throws: ``WeaveError`` (``WeaveError/Code/invalidArgument``) for a maximum outside
    ///   64 bytes...4 GiB; ``ProcessError/Code/spawnFailed`` if the system is out of descriptors.
    public static func makePair(maximumFrameSize: Int = defaultMaximumFrameSize) throws -> (ProcessPipe, ProcessPipe) {
        guard maximumFrameSize >= 64, maximumFrameSize <= Int(UInt32.max) else {
            throw WeaveError(.invalidArgument, "ProcessPipe maximumFrameSize \(maximumFrameSize) is outside 64...\(UInt32.max)")
        }
        let (first, second) = try ChildHandoff.socketPair("ProcessPipe.makePair")
        return (ProcessPipe(fd: first, maximumFrameSize: maximumFrameSize), ProcessPipe(fd: second, maximumFrameSize: maximumFrameSize))
    }

    deinit {
        closeNow()
    }

    /// The end's state, for logs: unused, open, sent to a child, or closed.
    public var description: String {
        switch state {
        case .unopened(let fd): "ProcessPipe(fd \(fd), unused)"
        case .open: "ProcessPipe(open)"
        case .sent(let pid): "ProcessPipe(sent to child \(pid))"
        case .closed: "ProcessPipe(closed)"
        }
    }

    // MARK: Sending

    /// Sends `value` as one message, and returns once the kernel has all of it (so closing
    /// the pipe or exiting right after loses nothing). Parks only while the kernel's socket
    /// buffer is full: the peer is behind. After a timeout the message is still on its way
    /// unless the pipe is closed.
    ///
    /// - Throws: ``ProcessError/Code/frameTooLarge`` (nothing is sent),
    ///   ``ProcessError/Code/closed`` (this end was closed or sent to a child), a `UVError`
    ///   (`EPIPE`: the peer is gone), ``TimeoutError``, `CancellationError`, or the
    ///   value's own encoding error.
    public func send<Value: Encodable>(_ value: Value, timeout: Duration? = nil) throws {
        try write(kind: ProcessPipe.valueKind, timeout: timeout) { try BinaryEncoder().encode(value, appendingTo: &$0) }
    }

    /// Sends `bytes` as one raw message (receive it with ``receiveBytes(timeout:)``).
    public func send(bytes: [UInt8], timeout: Duration? = nil) throws {
        try write(kind: ProcessPipe.bytesKind, timeout: timeout) { $0.append(contentsOf: bytes) }
    }

    private func write(kind: UInt8, timeout: Duration?, _ body: (inout [UInt8]) throws -> Void) throws {
        let channel = try openChannel("send")
        if ended, let endError { throw endError }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        try channel.waitUntilWritable(timeout: timeout)
        try channel.appendFrame { frame in
            frame.append(kind)
            try body(&frame)
        }
        try channel.flush()
        // Return only once the kernel has the whole message (highWater is 0 here): a pipe
        // closed, or a process exiting, right after a send must not drop what libuv queued.
        try channel.waitUntilWritable(timeout: deadline.map { $0 - .now })
    }

    // MARK: Receiving

    /// Parks until a message arrives and decodes it as `Value`.
    ///
    /// - Throws: ``ProcessError/Code/endOfStream`` once the peer closed its end (or exited)
    ///   and every buffered message was taken; ``ProcessError/Code/malformedFrame`` if the
    ///   message is raw bytes or does not decode as `Value`; ``ProcessError/Code/frameTooLarge``
    ///   after the peer sent an oversized frame; ``TimeoutError``; `CancellationError`.
    public func receive<Value: Decodable>(_ type: Value.Type = Value.self, timeout: Duration? = nil) throws -> Value {
        let (kind, bytes) = try next(timeout: timeout)
        guard kind == ProcessPipe.valueKind else {
            throw ProcessError(.malformedFrame, "ProcessPipe: expected a \(Value.self) value, received a raw message of \(bytes.count) bytes")
        }
        do {
            return try BinaryDecoder().decode(Value.self, from: bytes)
        } catch {
            throw ProcessError(.malformedFrame, "ProcessPipe: a message of \(bytes.count) bytes does not decode as \(Value.self): \(error)")
        }
    }

    /// Parks until a raw message (sent with ``send(bytes:timeout:)``) arrives.
    ///
    /// Throws as ``receive(_:timeout:)``; a value message is ``ProcessError/Code/malformedFrame``.
    public func receiveBytes(timeout: Duration? = nil) throws -> [UInt8] {
        let (kind, bytes) = try next(timeout: timeout)
        guard kind == ProcessPipe.bytesKind else {
            throw ProcessError(.malformedFrame, "ProcessPipe: expected a raw message, received a value")
        }
        return bytes
    }

    /// Whether a message is buffered (``receive(_:timeout:)`` would not park).
    public var hasPendingMessage: Bool { inboxHead < inbox.count }

    private func next(timeout: Duration?) throws -> (UInt8, [UInt8]) {
        _ = try openChannel("receive")
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if inboxHead < inbox.count {
                let message = inbox[inboxHead]
                inbox[inboxHead] = (0, [])
                inboxHead += 1
                bufferedBytes -= message.1.count + 1
                if bufferedBytes <= ProcessPipe.bufferLimit / 2, case .open(let channel) = state {
                    try channel.resumeReading()
                }
                if inboxHead == inbox.count {
                    inbox.removeAll(keepingCapacity: true)
                    inboxHead = 0
                }
                return message
            }
            if ended { throw endError ?? ProcessError(.endOfStream, "ProcessPipe: the other end was closed") }
            if case .closed = state { throw ProcessError(.closed, "ProcessPipe is closed") }
            arrived.clear()
            try arrived.wait(timeout: deadline.map { $0 - .now })
        }
    }

    // MARK: Closing

    /// Closes this end: the peer's reads end with ``ProcessError/Code/endOfStream``; parked
    /// receivers here fail with ``ProcessError/Code/closed``.
    public func close() {
        affinity.check(description)
        closeNow()
        arrived.set()
    }

    private func closeNow() {
        switch state {
        case .unopened(let fd): Glibc.close(fd)
        case .open(let channel): channel.close()
        case .sent, .closed: break
        }
        state = .closed
    }

    private func openChannel(_ operation: String) throws -> FrameChannel {
        switch state {
        case .open(let channel):
            affinity.check(description)
            return channel
        case .unopened(let fd):
            let hub = try AnyCoroutine.requireCurrent("ProcessPipe").hub
            affinity.bind(description)
            let channel = try FrameChannel.open(fd: fd, hub: hub, maximumFrameSize: maximumFrameSize, label: "ProcessPipe")
            channel.onFrame = { [weak self, unowned channel] frame in
                guard let self, !frame.isEmpty else { return }
                self.inbox.append((frame[0], [UInt8](frame[1...])))
                self.bufferedBytes += frame.count
                // Bounded buffering: past the limit, stop reading, so the peer's sends park.
                if self.bufferedBytes > ProcessPipe.bufferLimit { channel.pauseReading() }
                self.arrived.set()
            }
            channel.onEnd = { [weak self] error in
                guard let self else { return }
                self.ended = true
                self.endError = error.map { error in
                    (error as? UVError).map { ProcessError(.endOfStream, "ProcessPipe: the other end is gone (\($0))") } ?? error
                }
                self.arrived.set()
            }
            channel.highWater = 0
            state = .open(channel)
            try channel.startReading()
            return channel
        case .sent(let pid):
            throw ProcessError(.closed, "ProcessPipe.\(operation): this end was sent to child \(pid)")
        case .closed:
            throw ProcessError(.closed, "ProcessPipe.\(operation): this end is closed")
        }
    }

    // MARK: Codable

    private enum CodingKeys: String, CodingKey { case slot, maximumFrameSize }

    /// Hands this end to the child being started (only inside a ``ChildProcess`` task).
    ///
    /// Throws ``WeaveError/Code/invalidArgument`` anywhere else, or if the end was already
    /// used, closed or sent.
    public func encode(to encoder: any Encoder) throws {
        let handoff = try ChildHandoff.require("ProcessPipe")
        guard case .unopened(let fd) = state else {
            throw WeaveError(.invalidArgument, "only an unused ProcessPipe end can be sent to a child, not \(description)")
        }
        let slot = handoff.slot(for: self, fd: fd) { [weak self] pid in
            // Started: the child has its own copy; ours would hide the child's exit (no EOF).
            guard let self, let pid, case .unopened(let fd) = self.state else { return }
            Glibc.close(fd)
            self.state = .sent(pid)
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(slot, forKey: .slot)
        try container.encode(maximumFrameSize, forKey: .maximumFrameSize)
    }

    /// Opens the end the parent sent (in the child, while its task is decoded).
    public required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let slot = try container.decode(Int.self, forKey: .slot)
        let maximum = try container.decode(Int.self, forKey: .maximumFrameSize)
        guard maximum >= 64, maximum <= Int(UInt32.max) else {
            throw ProcessError(.malformedFrame, "ProcessPipe: maximumFrameSize \(maximum) is out of range")
        }
        maximumFrameSize = maximum
        state = .unopened(try ChildHandoff.inheritedDescriptor(slot: slot, what: "ProcessPipe"))
    }
}
