import Glibc
import Weave

// Tasks for the descriptor and spawn tests (issue 12, items 13 and 15): what a worker holds,
// what the programs it starts hold, and helpers that outlive the task that started them.

let spawnTestTasks: [any ProcessTask.Type] = [
    ListDescriptors.self, ExecListDescriptors.self, LockSpawnHelperThenDie.self, QueueGetWithHelper.self,
]

/// How a task starts another program: `Command`, or a bare `posix_spawn` that inherits
/// every descriptor not marked close-on-exec (what any library or `system()` would do).
public enum HelperLauncher: String, Codable, Sendable, CaseIterable {
    case subprocess
    case posixSpawn
}

/// Starts `arguments` (a path first) with stdout into `outputPath` (or inherited when nil);
/// returns its pid.
func launch(_ arguments: [String], with launcher: HelperLauncher, outputPath: String? = nil) throws -> Int32 {
    switch launcher {
    case .subprocess:
        let process = try Command.spawn(
            arguments[0], arguments: Array(arguments.dropFirst()), standardInput: .discard,
            standardOutput: outputPath == nil ? .discard : .pipe, standardError: .discard)
        return process.pid
    case .posixSpawn:
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        var pid: pid_t = 0
        let copies = arguments.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var argv = copies + [nil]
        let status = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        guard status == 0 else { throw TestFailure(reason: "posix_spawn \(arguments[0]): \(status)") }
        return pid
    }
}

/// This process's descriptors as `fd -> target` (the listing's own descriptor left out).
public struct ListDescriptors: ProcessTask {
    public init() {}
    public func run() throws -> [String] {
        guard let directory = opendir("/proc/self/fd") else { throw TestFailure(reason: "opendir /proc/self/fd") }
        defer { closedir(directory) }
        let own = dirfd(directory)
        var result: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            guard let fd = Int32(name), fd != own else { continue }
            var target = [CChar](repeating: 0, count: 512)
            let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
            let text = length > 0 ? String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
            result.append("\(fd) -> \(text)")
        }
        return result
    }
}

/// Runs `/bin/ls /proc/self/fd` with `launcher` and returns what it listed: the descriptors
/// the program inherited (plus its own directory handle). Holds a queue link and a pipe end
/// (when given, in a ``ChildProcess``), both opened first.
public struct ExecListDescriptors: ProcessTask {
    public let launcher: HelperLauncher
    public let queue: ProcessQueue<Int>?
    public let pipe: ProcessPipe?
    public init(launcher: HelperLauncher, queue: ProcessQueue<Int>? = nil, pipe: ProcessPipe? = nil) {
        self.launcher = launcher
        self.queue = queue
        self.pipe = pipe
    }
    public func run() throws -> [String] {
        if let queue { _ = try queue.count() }
        if let pipe { try pipe.send(1) }
        let output: String
        switch launcher {
        case .subprocess:
            output = try Command.run("/bin/ls", arguments: ["/proc/self/fd"], timeout: .seconds(30)).outputString
        case .posixSpawn:
            let path = "/tmp/weave-exec-fds-\(getpid())"
            defer { unlink(path) }
            let pid = try launch(["/bin/ls", "/proc/self/fd"], with: .posixSpawn, outputPath: path)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            guard let file = fopen(path, "r") else { throw TestFailure(reason: "no output from ls") }
            defer { fclose(file) }
            var text = ""
            var buffer = [CChar](repeating: 0, count: 256)
            while fgets(&buffer, Int32(buffer.count), file) != nil {
                text += String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            output = text
        }
        return output.split(separator: "\n").map(String.init)
    }
}

/// Takes the lock, starts `sleep 30` with `launcher`, sends its pid, and dies holding the lock.
public struct LockSpawnHelperThenDie: ProcessTask {
    public let lock: ProcessLock
    public let pipe: ProcessPipe
    public let launcher: HelperLauncher
    public init(lock: ProcessLock, pipe: ProcessPipe, launcher: HelperLauncher) {
        self.lock = lock
        self.pipe = pipe
        self.launcher = launcher
    }
    public func run() throws -> Int {
        try lock.acquire(timeout: .seconds(30))
        let helper = try launch(["/bin/sleep", "30"], with: launcher)
        try pipe.send(helper)
        kill(getpid(), SIGKILL)
        sleep(10)
        return 0
    }
}

/// Starts `sleep 30` with `launcher`, sends its pid, then waits on the queue for good.
public struct QueueGetWithHelper: ProcessTask {
    public let queue: ProcessQueue<Int>
    public let pipe: ProcessPipe
    public let launcher: HelperLauncher
    public init(queue: ProcessQueue<Int>, pipe: ProcessPipe, launcher: HelperLauncher) {
        self.queue = queue
        self.pipe = pipe
        self.launcher = launcher
    }
    public func run() throws -> Int {
        let helper = try launch(["/bin/sleep", "30"], with: launcher)
        try pipe.send(helper)
        return try queue.get()
    }
}
