import Glibc
import Weave

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
