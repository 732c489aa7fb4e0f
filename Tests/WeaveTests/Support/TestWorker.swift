import Glibc
import Weave
import WeaveTestSupport
@testable import WeaveProcess

/// The test suite's worker program (target `WeaveTestWorker`), built next to the test
/// bundle: under `swift test`, `/proc/self/exe` is the bundle, which is no worker.
let testWorkerPath: String = {
    let bundle = ProcessPool.currentExecutable()
    let directory = bundle.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return directory + "/WeaveTestWorker"
}()

func testPool(workers: Int = 2, maxTasksPerWorker: Int? = nil, maximumFrameSize: Int = ProcessPool.defaultMaximumFrameSize, initializer: (any ProcessTask)? = nil) throws -> ProcessPool {
    try ProcessPool(
        configuration: .init(
            workers: workers, executable: testWorkerPath, maxTasksPerWorker: maxTasksPerWorker, maximumFrameSize: maximumFrameSize,
            environment: ["SWIFT_BACKTRACE": "enable=no"]),
        initializer: initializer)
}

/// Child processes of this process (all threads), from /proc.
func childProcessIDs() -> [Int32] {
    var result: [Int32] = []
    guard let tasks = opendir("/proc/self/task") else { return [] }
    defer { closedir(tasks) }
    while let entry = readdir(tasks) {
        let name = directoryEntryName(entry)
        guard Int(name) != nil, let file = fopen("/proc/self/task/\(name)/children", "r") else { continue }
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = cString(buffer)
            result += line.split(separator: " ").compactMap { Int32(String($0.filter(\.isNumber))) }
        }
        fclose(file)
    }
    return result
}

/// Whether `pid` is a live process (not gone, not a zombie).
func isAlive(_ pid: Int32) -> Bool {
    guard let file = fopen("/proc/\(pid)/stat", "r") else { return false }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 1024)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
    let line = cString(buffer)
    guard let close = line.lastIndex(of: ")") else { return false }
    let state = line[line.index(close, offsetBy: 2)...].first
    return state != "Z" && state != "X"
}

/// The text of a NUL-terminated C buffer (as `fgets` fills it).
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
