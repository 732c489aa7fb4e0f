import Glibc
import Weave

// Probes for leak checks, shared by every test target.

/// Open file descriptors of this process (entries of /proc/self/fd), optionally only those
/// whose target starts with `kind` (such as `socket:`), which ignores the test runner's own
/// pipes and files.
public func openFileDescriptorCount(kind: String? = nil) -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    let own = dirfd(directory)
    var count = 0
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        guard name != ".", name != "..", Int32(name) != own else { continue }
        if let kind {
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
            guard length > 0 else { continue }
            let text = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix(kind) else { continue }
        }
        count += 1
    }
    return count
}

/// The name of a `readdir` entry. Read in place: glibc sizes each entry to its name
/// (`d_reclen`), so copying the whole 256-byte `d_name` reads past the end of the last entry
/// of its buffer (ASan: heap-buffer-overflow; without it, an occasional SIGSEGV when that
/// buffer ends a mapping, as the 2,000-connection test's listing of /proc/self/fd did).
public func directoryEntryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
}

/// Open socket descriptors of this process.
public func openSocketCount() -> Int {
    openFileDescriptorCount(kind: "socket:")
}

/// Coroutines alive on the current hub (the caller included).
public func aliveCoroutines() -> Int {
    Hub.current!.statistics.aliveCoroutines
}

/// Writes to stderr without Foundation (an exit test's child reports through it).
public enum FileHandleStandardError {
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
