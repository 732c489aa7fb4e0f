import Glibc
import WeaveCore

/// A child's side of a shared object: sends requests to the parent's ``ManagerHost`` over
/// the link it inherited and parks the calling coroutine until the answer comes. Several
/// coroutines may call at once (answers are matched by id). Timeouts are enforced by the
/// host, so a timed-out `get` can never also deliver its item; a cancelled call sends a
/// cancel, and an answer that still arrives is handed to the call's `compensation` (a
/// `get`'s item is put back, an `acquire` is released).
final class ManagerClient {
    let label: String
    private let channel: FrameChannel
    private var nextID: UInt64 = 0
    private var calls: [UInt64: Call] = [:]
    private var endError: ProcessError?

    private final class Call {
        let event = Event(label: "ProcessQueue/Manager call")
        var answer: (ManagerStatus, [UInt8])?
        var compensation: (([UInt8]) -> Void)?
        var isAbandoned = false
    }

    init(fd: Int32, label: String, maximumFrameSize: Int) throws {
        let hub = try AnyCoroutine.requireCurrent("ProcessQueue/Manager handle").hub
        self.label = label
        channel = try FrameChannel.open(fd: fd, hub: hub, maximumFrameSize: maximumFrameSize, label: label)
        channel.onFrame = { [unowned self] frame in self.received(frame) }
        channel.onEnd = { [unowned self] error in
            self.endError = ProcessError(.endOfStream, "\(self.label): the parent closed the connection\(error.map { " (\($0))" } ?? "")")
            for call in self.calls.values { call.event.set() }
            self.calls.removeAll()
        }
        try channel.startReading()
        // A child waiting for its parent's answer is not deadlocked; nor should an idle
        // handle keep the child's loop alive.
        channel.setReferenced(false)
    }

    deinit {
        channel.close()
    }

    /// Sends request `op` and parks until it is answered; returns the answer's payload.
    /// `compensation` must not park (it may run in the read callback): use ``post(_:_:)``.
    ///
    /// Throws ``TimeoutError`` (the host's timer fired), ``ProcessError`` (end of stream,
    /// the host's failure message), `CancellationError`.
    func call(_ op: UInt8, _ payload: [UInt8] = [], operation: String, timeout: Duration? = nil, compensation: (([UInt8]) -> Void)? = nil) throws -> [UInt8] {
        if let endError { throw endError }
        nextID &+= 1
        let id = nextID
        var milliseconds: UInt64 = 0
        if let timeout {
            guard timeout > .zero else { throw WeaveError(.invalidArgument, "\(operation): timeout must be positive, not \(timeout)") }
            let (seconds, attoseconds) = timeout.components
            milliseconds = UInt64(clamping: seconds) &* 1000 &+ UInt64((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        }
        try channel.appendFrame { frame in
            frame.append(ManagerStatus.requestKind)
            WorkerProtocol.appendVarint(id, to: &frame)
            frame.append(op)
            WorkerProtocol.appendVarint(milliseconds, to: &frame)
            frame.append(contentsOf: payload)
        }
        do {
            try channel.flush()
        } catch let error as UVError {
            // EPIPE, ECONNRESET: the owner dropped the object or exited.
            throw ProcessError(.endOfStream, "\(operation): the owning process closed \(label) (\(error))")
        }
        let call = Call()
        call.compensation = compensation
        calls[id] = call
        channel.setReferenced(true)
        defer { if calls.isEmpty { channel.setReferenced(false) } }
        do {
            try call.event.wait()
        } catch {
            if call.answer == nil, endError == nil {
                call.isAbandoned = true
                try? channel.appendFrame { frame in
                    frame.append(ManagerStatus.cancelKind)
                    WorkerProtocol.appendVarint(id, to: &frame)
                }
                try? channel.flush()
            } else if let (status, bytes) = call.answer, status == .ok {
                compensation?(bytes)
            }
            throw error
        }
        guard let (status, bytes) = call.answer else {
            throw endError ?? ProcessError(.endOfStream, "\(label): connection closed")
        }
        switch status {
        case .ok:
            return bytes
        case .timedOut:
            throw TimeoutError(operation: operation, timeout: timeout ?? .zero)
        case .cancelled:
            throw CancellationError()
        case .failed:
            var cursor = WorkerProtocol.Cursor(UnsafeRawBufferPointer(start: nil, count: 0))
            let message = bytes.withUnsafeBytes { raw -> String in
                cursor = WorkerProtocol.Cursor(raw)
                return (try? cursor.string()) ?? "failed"
            }
            throw ProcessError(.malformedFrame, "\(operation): \(message)")
        }
    }

    /// Sends request `op` without waiting for its answer (which is dropped). Never parks,
    /// so it may run in a read callback: it undoes an abandoned call there.
    func post(_ op: UInt8, _ payload: [UInt8] = []) {
        guard endError == nil else { return }
        nextID &+= 1
        let id = nextID
        try? channel.appendFrame { frame in
            frame.append(ManagerStatus.requestKind)
            WorkerProtocol.appendVarint(id, to: &frame)
            frame.append(op)
            WorkerProtocol.appendVarint(0, to: &frame)
            frame.append(contentsOf: payload)
        }
        try? channel.flush()
    }

    private func received(_ frame: UnsafeRawBufferPointer) {
        var cursor = WorkerProtocol.Cursor(frame)
        guard let id = try? cursor.varint(), let rawStatus = try? cursor.byte(), let status = ManagerStatus(rawValue: rawStatus) else {
            channel.end(ProcessError(.malformedFrame, "\(label): malformed answer from the parent"))
            return
        }
        guard let call = calls.removeValue(forKey: id) else { return }
        if call.isAbandoned {
            if status == .ok { call.compensation?([UInt8](cursor.rest)) }
            return
        }
        call.answer = (status, [UInt8](cursor.rest))
        call.event.set()
    }
}
