import Glibc
import Synchronization

/// `mkdtemp` could not make a scratch directory.
public struct ScratchDirectoryError: Error, CustomStringConvertible {
    public let description: String
}

/// Makes a new directory `/tmp/<prefix>-XXXXXX` that is removed, with the files in it, when
/// the process exits normally: for fixtures that live as long as the test process (a shared
/// certificate authority, say), which no test can clean up after.
///
/// - Throws: ``ScratchDirectoryError`` when the directory cannot be made.
public func makeScratchDirectory(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let created = mkdtemp(&template) else {
        throw ScratchDirectoryError(description: "mkdtemp /tmp/\(prefix)-XXXXXX: \(String(cString: strerror(errno)))")
    }
    let directory = String(cString: created)
    let first = scratchDirectories.withLock { directories in
        directories.append(directory)
        return directories.count == 1
    }
    if first { atexit { scratchDirectories.withLock { $0.forEach(removeScratchDirectory) } } }
    return directory
}

/// Directories to remove at exit.
private let scratchDirectories = Mutex<[String]>([])

/// Removes the files in `path` (it holds no subdirectories), then `path`.
private func removeScratchDirectory(_ path: String) {
    guard let directory = opendir(path) else { return }
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        if name != "." && name != ".." { unlink("\(path)/\(name)") }
    }
    closedir(directory)
    rmdir(path)
}
