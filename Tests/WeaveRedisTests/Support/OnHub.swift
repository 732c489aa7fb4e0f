import Glibc
import Weave

/// Runs `body` inside `Hub.run` on a pthread of its own and awaits the result: Swift
/// Testing's cooperative pool must never be blocked by a hub.
func onHub<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let job = HubJob { continuation.resume(with: Result { try Hub.run(body) }) }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 8 << 20)
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { raw in
            Unmanaged<HubJob>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, Unmanaged.passRetained(job).toOpaque())
        pthread_attr_destroy(&attributes)
        precondition(status == 0, "pthread_create failed: \(status)")
        pthread_detach(thread)
    }
}

private final class HubJob: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A mutable box shared by the coroutines of one hub (one thread).
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// Coroutines alive on the current hub (the caller included).
func aliveCoroutines() -> Int {
    Hub.current!.statistics.aliveCoroutines
}

/// Open descriptors of this process whose target starts with `kind` (`socket:`).
func openFileDescriptorCount(kind: String) -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    let own = dirfd(directory)
    var count = 0
    while let entry = readdir(directory) {
        // Read in place: glibc sizes each entry to its name.
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let name = String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
        guard name != ".", name != "..", Int32(name) != own else { continue }
        var target = [CChar](repeating: 0, count: 256)
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard length > 0 else { continue }
        if String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix(kind) { count += 1 }
    }
    return count
}

/// Writes to stderr without Foundation (an exit test's child reports through it).
enum FileHandleStandardError {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
