import CLibUV
import Glibc
import WeaveCore
import WeaveIO

/// A duplex stream of length-prefixed frames over a pipe (a `uv_pipe_t` over a socketpair
/// or an inherited fd), the transport under process pools, pipes and queues.
///
/// A frame is a 4-byte little-endian length and that many bytes. Reading runs in libuv's
/// read callback, straight into one reusable buffer, and hands each complete frame to
/// ``onFrame`` in place (no allocation per frame); a frame longer than
/// ``maximumFrameSize`` ends the channel with ``ProcessError/Code/frameTooLarge`` before any
/// of it is buffered. Writing appends frames to an output buffer and ``flush()`` hands it
/// to the kernel (`uv_try_write`, then a queued `uv_write` for the rest), so a burst of
/// frames costs one system call. Belongs to one hub; closed at hub shutdown at the latest.
final class FrameChannel: HubResource, WaitTarget {
    unowned(unsafe) let hub: Hub
    /// Freed in its close callback.
    let handle: UnsafeMutablePointer<uv_pipe_t>
    let maximumFrameSize: Int
    /// Called for each complete frame, on the hub's thread, from the read callback: the
    /// bytes are valid only during the call. It must not park.
    @exclusivity(unchecked) var onFrame: (UnsafeRawBufferPointer) -> Void = { _ in }
    /// Called once when the channel can no longer read: nil at the peer's clean end of
    /// stream, else why (a read error, an oversized frame).
    @exclusivity(unchecked) var onEnd: ((any Error)?) -> Void = { _ in }
    /// Called after the frames of one read have all been delivered: the place to flush
    /// replies once for the whole batch rather than once a frame.
    @exclusivity(unchecked) var onBatchDelivered: () -> Void = {}
    let label: String

    @exclusivity(unchecked) private var input = ReadBuffer()
    /// Unchecked, as the other state here (touched only on the hub's thread, a few times a
    /// frame, where a dynamic check costs more than the work); the one access that calls out
    /// (``appendFrame(_:)``'s body, which may encode user values) is guarded by `appending`.
    @exclusivity(unchecked) private var output: [UInt8] = []
    @exclusivity(unchecked) private var appending = false
    /// Bytes handed to `uv_write` and not yet confirmed.
    @exclusivity(unchecked) private(set) var queuedBytes = 0
    private var writers = WaitQueue()
    @exclusivity(unchecked) private var isReading = false
    @exclusivity(unchecked) private(set) var isClosed = false
    @exclusivity(unchecked) private(set) var ended = false
    /// Queued bytes above which ``waitUntilWritable(timeout:)`` parks.
    var highWater = 1 << 20
    /// How long the peer may stay silent in the middle of a frame (once a frame's first
    /// byte has arrived, the rest must follow, each read within this time of the last)
    /// before the channel ends with ``ProcessError/Code/malformedFrame``; nil: no limit.
    /// Not counted while reading is paused (then the wait is ours, not the peer's).
    @exclusivity(unchecked) var frameTimeout: Duration?
    /// Armed while a partial frame sits in the input (only with ``frameTimeout``).
    @exclusivity(unchecked) private var frameTimer: TimerNode?
    /// Bytes read over the channel's life: the frame timer's measure of progress.
    @exclusivity(unchecked) private var bytesRead = 0
    @exclusivity(unchecked) private var bytesReadWhenArmed = 0

    /// Takes over an initialised `uv_pipe_t` (opened over an fd, or created by `uv_spawn`).
    init(hub: Hub, handle: UnsafeMutablePointer<uv_pipe_t>, maximumFrameSize: Int, label: String) {
        self.hub = hub
        self.handle = handle
        self.maximumFrameSize = maximumFrameSize
        self.label = label
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        output.reserveCapacity(4096)
        hub.register(self)
    }

    /// Opens a channel over an inherited file descriptor (a worker's end of its socketpair).
    static func open(fd: Int32, hub: Hub, maximumFrameSize: Int, label: String) throws -> FrameChannel {
        let handle = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(hub.loop, handle, 0)
        let status = uv_pipe_open(handle, fd)
        guard status == 0 else {
            FrameChannel.closeAndFree(handle)
            throw UVError(status, operation: "pipe open", argument: "fd \(fd)")
        }
        return FrameChannel(hub: hub, handle: handle, maximumFrameSize: maximumFrameSize, label: label)
    }

    deinit {
        close()
        input.deallocate()
    }

    /// The descriptor under the pipe, or -1.
    private var fileDescriptor: Int32 {
        var fd = uv_os_fd_t(-1)
        return uv_fileno(rawHandle, &fd) == 0 ? fd : -1
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    private var rawHandle: UnsafeMutablePointer<uv_handle_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
    }

    // MARK: Reading

    /// Starts delivering frames to ``onFrame``.
    func startReading() throws {
        guard !isReading, !isClosed, !ended else { return }
        let status = uv_read_start(stream, frameAllocate, frameRead)
        guard status == 0 else { throw UVError(status, operation: "read", argument: label) }
        isReading = true
    }

    /// Stops reading for now (the consumer is behind): the kernel buffer fills and the
    /// peer's writes park. ``resumeReading()`` continues where it stopped.
    func pauseReading() {
        guard isReading, !isClosed else { return }
        uv_read_stop(stream)
        isReading = false
    }

    /// Reads again after ``pauseReading()``, first delivering the complete frames already
    /// buffered (they would otherwise wait for the peer's next write).
    func resumeReading() throws {
        guard !isReading, !isClosed, !ended else { return }
        deliverFrames()
        guard !isClosed, !ended else { return }
        try startReading()
    }

    /// Whether the channel keeps the loop alive (an idle pool's workers should not).
    func setReferenced(_ referenced: Bool) {
        guard !isClosed else { return }
        if referenced { uv_ref(rawHandle) } else { uv_unref(rawHandle) }
    }

    fileprivate func allocate() -> uv_buf_t {
        // Room for the frame being assembled, so a large frame arrives in few reads.
        var wanted = 64 * 1024
        if input.count >= 4 {
            let length = Int(input.readable.loadUnaligned(as: UInt32.self).littleEndian)
            if length <= maximumFrameSize { wanted = max(wanted, 4 + length - input.count) }
        }
        let space = input.reserveTail(minimum: wanted)
        return uv_buf_init(space.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: CChar.self), UInt32(min(space.count, Int(UInt32.max))))
    }

    fileprivate func didRead(_ count: Int) {
        if count > 0 {
            input.commit(count)
            bytesRead += count
            deliverFrames()
            if !isClosed { onBatchDelivered() }
            armFrameTimerIfPartial()
        } else if count < 0 {
            end(count == UV_EOF.rawValue ? nil : UVError(Int32(count), operation: "read", argument: label))
        }
    }

    /// Reads and delivers, without waiting, whatever the peer has already written: the
    /// last words of a process that has exited (its exit can be seen before its final
    /// writes are read). Stops at the end of the stream or a read error, which it reports
    /// through ``onEnd`` as a normal read would.
    func drainAvailable() {
        guard !isClosed, !ended else { return }
        let fd = fileDescriptor
        // libuv keeps its pipes non-blocking; never risk a blocking read on the hub.
        guard fd >= 0, fcntl(fd, F_GETFL) & O_NONBLOCK != 0 else { return }
        while !isClosed && !ended {
            let space = input.reserveTail(minimum: 64 * 1024)
            let count = read(fd, space.baseAddress, space.count)
            if count > 0 {
                didRead(count)
            } else if count == 0 {
                end(nil)
            } else if errno == EINTR {
                continue
            } else {
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    end(UVError(-errno, operation: "read", argument: label))
                }
                return
            }
        }
    }

    private func deliverFrames() {
        while !ended && input.count >= 4 {
            let length = Int(input.readable.loadUnaligned(as: UInt32.self).littleEndian)
            guard length <= maximumFrameSize else {
                end(ProcessError(.frameTooLarge, "\(label): frame of \(length) bytes exceeds the maximum of \(maximumFrameSize)"))
                return
            }
            guard input.count >= 4 + length else { return }
            onFrame(UnsafeRawBufferPointer(rebasing: input.readable[4..<(4 + length)]))
            if isClosed { return }
            input.consume(4 + length)
        }
    }

    // MARK: Frame deadline

    /// A partial frame is waiting for its rest: give the peer ``frameTimeout``.
    private func armFrameTimerIfPartial() {
        guard let frameTimeout, frameTimer == nil, !input.isEmpty, !ended, !isClosed else { return }
        bytesReadWhenArmed = bytesRead
        frameTimer = hub.addTimer(deadline: Hub.deadline(after: frameTimeout), .callback { [weak self] in
            self?.frameTimerFired()
        })
    }

    private func frameTimerFired() {
        frameTimer = nil
        guard let frameTimeout, !input.isEmpty, !ended, !isClosed else { return }
        // Progress since arming, a paused reader (our wait, not the peer's), or bytes ready
        // that a hub blocked past the deadline has not read yet: not the peer's silence.
        var ready = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        let readable = ready.fd >= 0 && poll(&ready, 1, 0) > 0
        if bytesRead != bytesReadWhenArmed || !isReading || readable {
            armFrameTimerIfPartial()
            return
        }
        var expected = "a frame"
        if input.count >= 4 {
            expected = "a \(4 + Int(input.readable.loadUnaligned(as: UInt32.self).littleEndian))-byte frame"
        }
        end(ProcessError(.malformedFrame, "\(label): sent \(input.count) bytes of \(expected), then nothing for \(frameTimeout)"))
    }

    private func cancelFrameTimer() {
        if let frameTimer {
            hub.removeTimer(frameTimer)
            self.frameTimer = nil
        }
    }

    /// Stops reading for good and reports why, once.
    func end(_ error: (any Error)?) {
        guard !ended else { return }
        ended = true
        cancelFrameTimer()
        if isReading && !isClosed {
            uv_read_stop(stream)
            isReading = false
        }
        onEnd(error)
    }

    // MARK: Writing

    /// Appends one frame whose payload `body` writes into the buffer it is given; the
    /// length prefix is filled in afterwards. Nothing is sent until ``flush()``.
    func appendFrame(_ body: (inout [UInt8]) throws -> Void) throws {
        // A body that parks while another coroutine writes a frame to this channel would
        // interleave the two: the check the unchecked `output` no longer makes.
        precondition(!appending, "\(label): a frame was appended while another was being written")
        appending = true
        defer { appending = false }
        let start = output.count
        // Room for the length (no array literal: that would allocate once a frame).
        output.append(contentsOf: repeatElement(0, count: 4))
        do {
            try body(&output)
        } catch {
            output.removeSubrange(start...)
            throw error
        }
        let length = output.count - start - 4
        guard length <= maximumFrameSize else {
            output.removeSubrange(start...)
            throw ProcessError(.frameTooLarge, "\(label): frame of \(length) bytes exceeds the maximum of \(maximumFrameSize)")
        }
        withUnsafeBytes(of: UInt32(length).littleEndian) { prefix in
            for index in 0..<4 { output[start + index] = prefix[index] }
        }
    }

    /// Bytes appended and not yet flushed.
    var unflushedCount: Int { output.count }

    /// Hands the buffered frames to the kernel; what it does not take now is queued in
    /// libuv and written in order. Never parks.
    func flush() throws {
        guard !output.isEmpty else { return }
        guard !isClosed else { throw ProcessError(.closed, "\(label) is closed") }
        var offset = 0
        if queuedBytes == 0 {
            let (written, status) = output.withUnsafeBytes { writeWithoutBlocking(stream, $0) }
            offset = written
            if status != 0 { throw UVError(status, operation: "write", argument: label) }
        }
        if offset < output.count {
            let request = FrameWriteRequest(copying: output[offset...], channel: self)
            request.submitted()
            var chunk = uv_buf_init(request.bytes.assumingMemoryBound(to: CChar.self), UInt32(request.count))
            let status = uv_write(request.request, stream, &chunk, 1, frameWritten)
            guard status == 0 else {
                request.abandon()
                throw UVError(status, operation: "write", argument: label)
            }
            queuedBytes += request.count
        }
        output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
    }

    fileprivate func writeCompleted(_ count: Int, status: Int32) {
        queuedBytes -= count
        if status != 0 && status != UV_ECANCELED.rawValue {
            writeError = UVError(status, operation: "write", argument: label)
            end(writeError)
        }
        if queuedBytes <= highWater { writers.signalAll() }
    }

    /// Why a queued write failed, if one did.
    private(set) var writeError: UVError?

    /// Hands the buffered frames to the kernel and parks until libuv holds none of them:
    /// once it returns, the bytes are the peer's even if this process dies the next moment.
    func flushAndWait() throws {
        try flush()
        while queuedBytes > 0 {
            if let writeError { throw writeError }
            if isClosed { throw ProcessError(.closed, "\(label) is closed") }
            let coroutine = try AnyCoroutine.requireCurrent("write")
            try coroutine.wait(
                on: self, "write", timeout: nil,
                enqueue: { writers.append($0) }, dequeue: { writers.remove($0) })
        }
    }

    /// Parks while more than ``highWater`` bytes wait in libuv (backpressure for senders).
    func waitUntilWritable(timeout: Duration?) throws {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while queuedBytes > highWater {
            if isClosed || ended { throw ProcessError(.closed, "\(label) is closed") }
            let coroutine = try AnyCoroutine.requireCurrent("write")
            try coroutine.wait(
                on: self, "write", timeout: deadline.map { $0 - .now },
                enqueue: { writers.append($0) }, dequeue: { writers.remove($0) })
        }
    }

    // MARK: Closing

    /// Closes the pipe; queued writes are dropped, parked writers wake with an error.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        cancelFrameTimer()
        if isReading {
            uv_read_stop(stream)
            isReading = false
        }
        handle.pointee.data = nil
        FrameChannel.closeAndFree(handle)
        hub.unregister(self)
        writers.signalAll()
    }

    func closeForShutdown() { close() }

    static func closeAndFree(_ handle: UnsafeMutablePointer<uv_pipe_t>) {
        closeAndFreeHandle(handle)
    }

    var waitDescription: String { label }
}

private let frameAllocate: uv_alloc_cb = { handle, _, buffer in
    guard let data = handle?.pointee.data else {
        buffer?.pointee = uv_buf_init(nil, 0)
        return
    }
    buffer?.pointee = Unmanaged<FrameChannel>.fromOpaque(data).takeUnretainedValue().allocate()
}

private let frameRead: uv_read_cb = { stream, count, _ in
    guard let data = stream?.pointee.data else { return }
    Unmanaged<FrameChannel>.fromOpaque(data).takeUnretainedValue().didRead(count)
}

/// A queued write: its own copy of the bytes, alive until libuv's callback.
private final class FrameWriteRequest {
    let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    let bytes: UnsafeMutableRawPointer
    let count: Int
    /// Retained until the write completes (closing the pipe completes it with ECANCELED).
    let channel: FrameChannel

    init(copying source: ArraySlice<UInt8>, channel: FrameChannel) {
        let count = source.count
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, count), alignment: 1)
        source.withUnsafeBytes { bytes.copyMemory(from: $0.baseAddress.unsafelyUnwrapped, byteCount: count) }
        self.count = count
        self.bytes = bytes
        self.channel = channel
    }

    /// Retains the box until libuv's callback releases it.
    func submitted() {
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// libuv refused the request: its callback will never run.
    func abandon() {
        Unmanaged.passUnretained(self).release()
    }

    deinit {
        bytes.deallocate()
        request.deallocate()
    }
}

private let frameWritten: uv_write_cb = { request, status in
    guard let data = request?.pointee.data else { return }
    let box = Unmanaged<FrameWriteRequest>.fromOpaque(data).takeRetainedValue()
    box.channel.writeCompleted(box.count, status: status)
}
