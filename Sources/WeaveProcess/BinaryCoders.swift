/// A binary writer and reader kept by one owner on one thread (a pool, a worker), so that
/// the encoders and keyed containers they make survive from one pass to the next: a pool
/// that sends tasks one at a time pays for them once, not once a task.
///
/// Not `Sendable`: used only on its owner's hub. A pass that begins while another is under
/// way (user `Codable` code that parks and lets another coroutine encode) gets a fresh
/// coder of its own.
final class BinaryCoders {
    private let writer = BinaryWriter()
    private let reader = BinaryReader()
    private var writing = false
    private var reading = false

    init() {}

    deinit {
        // The caches refer back to their coder: the cycles end here.
        writer.dropCaches()
        reader.dropCaches()
    }

    /// Runs `body` with the writer and appends what it wrote to `bytes` (nothing if it throws).
    func appending<R>(to bytes: inout [UInt8], _ body: (BinaryWriter) throws -> R) rethrows -> R {
        guard !writing else { return try BinaryWriter.appending(to: &bytes, body) }
        writing = true
        defer { writing = false }
        return try writer.pass(appendingTo: &bytes, body)
    }

    /// Runs `body` with the reader over `bytes` (borrowed for the call).
    func reading<R>(_ bytes: UnsafeRawBufferPointer, _ body: (BinaryReader) throws -> R) rethrows -> R {
        guard !reading else { return try BinaryReader.reading(bytes, body) }
        reading = true
        defer { reading = false }
        return try reader.pass(over: bytes, body)
    }
}
