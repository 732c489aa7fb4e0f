import CLibUV
import Glibc
import WeaveCore

/// A file whose reads and writes run on libuv's thread pool and block only the calling
/// coroutine (disk I/O has no readiness: a plain `read(2)` would stall the whole hub).
///
/// ```swift
/// let file = try File.open("/tmp/log.txt", mode: .append)
/// try file.write("started\n")
/// try file.close()
/// let bytes = try File.readAll("/etc/hostname")
/// ```
///
/// Errors are ``UVError``s naming the operation and the path (`open /nope: ENOENT`).
/// Cancelling or timing out a call returns at once; the pool thread finishes (or drops) the
/// request on its own, into memory of its own, so nothing leaks and nothing is corrupted.
/// Bytes are copied through a buffer owned by the request. A file belongs to the hub it was
/// opened on; close it when done (the hub closes forgotten ones at shutdown, and so does deinit).
///
/// Hub shutdown waits for requests still on the pool: one that never finishes (a read of a
/// FIFO nobody writes to) keeps `Hub.run` from returning. Use files, not FIFOs or devices,
/// or make sure such a read can end.
public final class File: HubResource, CustomStringConvertible {
    /// How to open a file: the `open(2)` flags.
    public struct Mode: Sendable, Hashable {
        /// `open(2)` flags (`O_CLOEXEC` is always added).
        public let flags: Int32

        public init(flags: Int32) { self.flags = flags }

        /// Read only; the file must exist.
        public static let read = Mode(flags: O_RDONLY)
        /// Write only; created if missing, emptied if present.
        public static let write = Mode(flags: O_WRONLY | O_CREAT | O_TRUNC)
        /// Write only at the end; created if missing.
        public static let append = Mode(flags: O_WRONLY | O_CREAT | O_APPEND)
        /// Read and write; the file must exist.
        public static let readWrite = Mode(flags: O_RDWR)
        /// Write only; fails with `EEXIST` if the file exists.
        public static let createNew = Mode(flags: O_WRONLY | O_CREAT | O_EXCL)
    }

    unowned(unsafe) let hub: Hub
    /// The path it was opened with.
    public let path: String
    /// -1 once closed.
    private var fd: Int32
    /// Requests on the pool that still use `fd`: closing waits for them, so the number is
    /// never reused under a late read or write.
    private var inFlight = 0
    private var closeWhenIdle = false
    /// Whether ``close(timeout:)`` was called.
    public private(set) var isClosed = false

    private init(hub: Hub, fd: Int32, path: String) {
        self.hub = hub
        self.fd = fd
        self.path = path
        hub.register(self)
    }

    deinit { closeNow() }

    // MARK: - Opening

    /// Opens `path` with `mode`; a created file gets `permissions` (less the umask).
    ///
    /// Throws ``UVError`` (`open /nope: ENOENT`, `EACCES`, `EISDIR`, `EEXIST`),
    /// ``TimeoutError``, `CancellationError` (a file the pool opens after that is closed).
    public static func open(_ path: String, mode: Mode = .read, permissions: Int32 = 0o644, timeout: Duration? = nil) throws -> File {
        let coroutine = try AnyCoroutine.requireCurrent("File.open")
        let request = FileRequest(waiter: coroutine)
        // Opened after its caller left: close it, nobody will.
        request.whenAbandoned = { request in if request.result >= 0 { Glibc.close(Int32(request.result)) } }
        let fd = try request.run("open", path: path, timeout: timeout) { loop, request, callback in
            uv_fs_open(loop, request, path, mode.flags | O_CLOEXEC, permissions, callback)
        }
        return File(hub: coroutine.hub, fd: Int32(fd), path: path)
    }

    /// The status of the file at `path` (following symbolic links).
    ///
    /// Throws ``UVError`` (`stat /nope: ENOENT`), ``TimeoutError``, `CancellationError`.
    public static func stat(_ path: String, timeout: Duration? = nil) throws -> FileStatus {
        let request = FileRequest(waiter: try AnyCoroutine.requireCurrent("File.stat"))
        _ = try request.run("stat", path: path, timeout: timeout) { loop, request, callback in
            uv_fs_stat(loop, request, path, callback)
        }
        return request.status.unsafelyUnwrapped
    }

    /// Reads the whole file at `path`.
    ///
    /// Throws ``UVError`` naming the path, ``IOError/Code/tooLarge`` past `maxSize` bytes
    /// (default 1 GiB), ``TimeoutError`` (covering the whole read), `CancellationError`.
    public static func readAll(_ path: String, maxSize: Int = 1 << 30, timeout: Duration? = nil) throws -> [UInt8] {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let file = try open(path, timeout: timeout)
        defer { try? file.close() }
        let size = Int(try file.stat(timeout: deadline.map { $0 - .now }).size)
        if size > maxSize { throw IOError(.tooLarge, "readAll \(path): \(size) bytes is more than the \(maxSize) allowed") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        while true {
            // Files can grow (or be in /proc, sized 0): read until the end, not to `size`.
            let chunk = try file.read(upTo: max(64 * 1024, min(size - bytes.count + 1, 1 << 20)),
                                      timeout: deadline.map { $0 - .now })
            if chunk.isEmpty { break }
            bytes += chunk
            if bytes.count > maxSize { throw IOError(.tooLarge, "readAll \(path): more than the \(maxSize) bytes allowed") }
        }
        try file.close(timeout: deadline.map { $0 - .now })
        return bytes
    }

    /// Replaces the file at `path` with `bytes` (creating it with `permissions` if missing).
    ///
    /// Throws ``UVError`` naming the path, ``TimeoutError``, `CancellationError` (the file
    /// may then hold part of the bytes).
    public static func write(_ bytes: [UInt8], to path: String, permissions: Int32 = 0o644, timeout: Duration? = nil) throws {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let file = try open(path, mode: .write, permissions: permissions, timeout: timeout)
        defer { try? file.close() }
        try file.write(bytes, timeout: deadline.map { $0 - .now })
        try file.close(timeout: deadline.map { $0 - .now })
    }

    // MARK: - Reading and writing

    /// Reads up to `target.count` bytes at `offset` (nil: at the current position, which
    /// then advances) into `target`. Returns 0 at the end of the file.
    ///
    /// Throws ``UVError`` naming the path, ``IOError/Code/closed``, ``TimeoutError``,
    /// `CancellationError`.
    public func read(into target: UnsafeMutableRawBufferPointer, at offset: Int64? = nil, timeout: Duration? = nil) throws -> Int {
        guard target.count > 0 else { return 0 }
        let request = try submit(dataCount: target.count)
        // libuv copies the uv_buf_t array; the bytes it points to belong to the request.
        var buffer = request.buffer
        let count = try request.run("read", path: path, timeout: timeout) { [fd] loop, fsRequest, callback in
            uv_fs_read(loop, fsRequest, fd, &buffer, 1, offset ?? -1, callback)
        }
        if count > 0 {
            target.baseAddress.unsafelyUnwrapped.copyMemory(from: request.data.unsafelyUnwrapped.baseAddress.unsafelyUnwrapped, byteCount: count)
        }
        return count
    }

    /// Reads up to `maxBytes` bytes at `offset` (nil: the current position); empty at the end.
    public func read(upTo maxBytes: Int = 64 * 1024, at offset: Int64? = nil, timeout: Duration? = nil) throws -> [UInt8] {
        guard maxBytes > 0 else { return [] }
        let request = try submit(dataCount: maxBytes)
        var buffer = request.buffer
        let count = try request.run("read", path: path, timeout: timeout) { [fd] loop, fsRequest, callback in
            uv_fs_read(loop, fsRequest, fd, &buffer, 1, offset ?? -1, callback)
        }
        return [UInt8](UnsafeRawBufferPointer(rebasing: request.data.unsafelyUnwrapped[..<count]))
    }

    /// Writes all of `bytes` at `offset` (nil: at the current position, or the end in
    /// ``Mode/append``).
    ///
    /// Throws ``UVError`` naming the path (`ENOSPC`, `EBADF` for a file opened read-only),
    /// ``IOError/Code/closed``, ``TimeoutError``, `CancellationError` (part of the bytes may
    /// be written).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64? = nil, timeout: Duration? = nil) throws {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var done = 0
        repeat {
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[done..<min(bytes.count, done + (1 << 20))])
            let request = try submit(dataCount: max(1, chunk.count))
            if let base = chunk.baseAddress { request.data.unsafelyUnwrapped.copyMemory(from: UnsafeRawBufferPointer(start: base, count: chunk.count)) }
            let position = offset.map { $0 + Int64(done) } ?? -1
            var buffer = request.buffer
            buffer.len = chunk.count
            let written = try request.run("write", path: path, timeout: deadline.map { $0 - .now }) { [fd] loop, fsRequest, callback in
                uv_fs_write(loop, fsRequest, fd, &buffer, 1, position, callback)
            }
            // write(2) never takes 0 of a non-empty regular write; do not spin if it does.
            if written == 0 && chunk.count > 0 { throw UVError(UV_EIO.rawValue, operation: "write", argument: path) }
            done += written
        } while done < bytes.count
    }

    /// Writes all of `bytes`; see ``write(_:at:timeout:)-(UnsafeRawBufferPointer,_,_)``.
    public func write(_ bytes: [UInt8], at offset: Int64? = nil, timeout: Duration? = nil) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset, timeout: timeout) }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String, at offset: Int64? = nil, timeout: Duration? = nil) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0), at: offset, timeout: timeout) }
    }

    /// The open file's status (`fstat`).
    public func stat(timeout: Duration? = nil) throws -> FileStatus {
        let request = try submit(dataCount: 0)
        _ = try request.run("stat", path: path, timeout: timeout) { [fd] loop, request, callback in
            uv_fs_fstat(loop, request, fd, callback)
        }
        return request.status.unsafelyUnwrapped
    }

    /// A request that uses `fd`, counted until its callback.
    private func submit(dataCount: Int) throws -> FileRequest {
        if isClosed { throw IOError(.closed, "\(self) is closed") }
        let request = FileRequest(waiter: try AnyCoroutine.requireCurrent("File"), dataCount: dataCount)
        inFlight += 1
        request.onComplete = { [self] in
            inFlight -= 1
            if inFlight == 0 && closeWhenIdle { closeNow() }
        }
        return request
    }

    // MARK: - Closing

    /// Closes the file. Throws ``UVError`` if the system reports a failure (`EIO`: data
    /// may not have reached the disk). Closing twice does nothing. A request still running
    /// on the pool (left by a cancelled caller) delays the actual close until it finishes.
    public func close(timeout: Duration? = nil) throws {
        guard !isClosed else { return }
        isClosed = true
        hub.unregister(self)
        if inFlight > 0 {
            closeWhenIdle = true
            return
        }
        let fd = self.fd
        self.fd = -1
        let request = FileRequest(waiter: try AnyCoroutine.requireCurrent("File.close"))
        _ = try request.run("close", path: path, timeout: timeout) { loop, request, callback in
            uv_fs_close(loop, request, fd, callback)
        }
    }

    /// Closes at once, on this thread (deinit, hub shutdown, after the last late request).
    private func closeNow() {
        if !isClosed {
            isClosed = true
            hub.unregister(self)
        }
        guard fd >= 0, inFlight == 0 else {
            closeWhenIdle = true
            return
        }
        Glibc.close(fd)
        fd = -1
    }

    package func closeForShutdown() { closeNow() }

    public var description: String { "File \(path)" }
}
