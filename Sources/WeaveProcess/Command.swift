import CLibUV
import Glibc
import WeaveCore
import WeaveIO

/// Runs other programs from a coroutine (Python's `subprocess`): ``run(_:arguments:environment:workingDirectory:input:timeout:killGracePeriod:maxOutputSize:parentDeathSignal:)``
/// captures everything, ``spawn(_:arguments:environment:workingDirectory:standardInput:standardOutput:standardError:killGracePeriod:parentDeathSignal:)``
/// streams standard input and output while the child runs.
///
/// ```swift
/// let result = try Command.run("git", arguments: ["rev-parse", "HEAD"], timeout: .seconds(10))
/// guard result.isSuccess else { throw MyError(result.errorString) }
/// print(result.outputString)
/// ```
///
/// Children are started by a spawner thread (never `fork` on the hub: the process has
/// threads, and copying a large process's page tables would hold the hub), so only the
/// calling coroutine waits, until the child has called `exec`. An executable without a
/// slash is looked up in `PATH` (the child's, when an environment is given), as `execvp`
/// does. A child holds its standard input, output and error and no other descriptor of this
/// process, close-on-exec or not. The hub watches each child through a pidfd (Linux 5.3 or
/// later) and reaps it, and kills and reaps those still running when it shuts down.
/// Children do not die with a parent that crashes unless asked: pass `parentDeathSignal`.
public enum Command {
    /// Runs `executable` to completion and returns its captured output and termination status.
    ///
    /// Standard input gets `input` (then end of file), or `/dev/null` when `input` is nil;
    /// standard output and error are captured, each up to `maxOutputSize` bytes. A child
    /// that exits without reading all of `input` is not an error.
    ///
    /// Blocks the calling coroutine only, until the child has exited and both its outputs
    /// are closed (a grandchild that keeps them open keeps `run` waiting: use `timeout`).
    ///
    /// - Parameters:
    ///   - executable: A path, or a name looked up in `PATH`.
    ///   - arguments: The arguments after the program name (`argv[1...]`).
    ///   - environment: The child's whole environment; nil inherits this process's. To add
    ///     to the inherited one, pass ``inheritedEnvironment(adding:)``.
    ///   - workingDirectory: The child's current directory; nil keeps this process's.
    ///   - input: Bytes written to the child's standard input.
    ///   - timeout: When it passes, the child gets `SIGTERM`, then `SIGKILL` after
    ///     `killGracePeriod`, and is reaped before ``TimeoutError`` is thrown.
    ///   - killGracePeriod: How long a timed-out child may take to exit after `SIGTERM`.
    ///   - maxOutputSize: The most bytes kept of each output stream (64 MiB by default).
    ///   - parentDeathSignal: A signal (such as `SIGKILL`) the child gets when this process
    ///     dies, however it dies; nil (the default) lets the child outlive it.
    /// - Throws: ``ProcessError`` with ``ProcessError/Code/spawnFailed`` (a missing
    ///   executable: `ENOENT`; `EACCES`...), ``ProcessError/Code/invalidArgument`` (a NUL
    ///   byte, a missing working directory), ``ProcessError/Code/outputTooLarge`` (the child
    ///   is killed); ``TimeoutError``; ``UVError`` for a failed pipe read; `CancellationError`
    ///   (the child is killed with `SIGKILL` and reaped by the hub moments later);
    ///   ``WeaveError`` outside a coroutine.
    public static func run(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        input: [UInt8]? = nil,
        timeout: Duration? = nil,
        killGracePeriod: Duration = .seconds(2),
        maxOutputSize: Int = 64 * 1024 * 1024,
        parentDeathSignal: Int32? = nil
    ) throws -> Result {
        guard maxOutputSize >= 0 else {
            throw ProcessError(.invalidArgument, "maxOutputSize must not be negative (it is \(maxOutputSize))")
        }
        let coroutine = try AnyCoroutine.requireCurrent("Command.run")
        let child = try spawn(executable, arguments: arguments, environment: environment,
                              workingDirectory: workingDirectory, standardInput: input == nil ? .discard : .pipe,
                              standardOutput: .pipe, standardError: .pipe, killGracePeriod: killGracePeriod,
                              parentDeathSignal: parentDeathSignal)
        var finished = false
        defer {
            // Whatever went wrong, the child must not run on unobserved: kill it (the hub reaps it).
            if !finished { try? child.kill() }
            child.close()
        }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let remaining = { deadline.map { $0 - .now } }
        do {
            let (output, errorOutput) = try withCoroutineGroup { group in
                if let input, let stdin = child.standardInput {
                    try group.spawn(name: "stdin of \(child.pid)") {
                        try feed(stdin, input, timeout: remaining())
                    }
                }
                let errors = try group.spawn(name: "stderr of \(child.pid)") {
                    try readAll(child.standardError.unsafelyUnwrapped, "standard error", of: child,
                                limit: maxOutputSize, timeout: remaining())
                }
                let output = try readAll(child.standardOutput.unsafelyUnwrapped, "standard output", of: child,
                                         limit: maxOutputSize, timeout: remaining())
                return (output, try errors.join())
            }
            let status = try child.awaitExit(coroutine, timeout: remaining())
            finished = true
            return Result(standardOutput: output, standardError: errorOutput, status: status)
        } catch let error as TimeoutError where error.scope == nil && timeout != nil {
            // Only the reads, the write and the wait above carry a per-call timeout: ours.
            try child.terminateAndReap(coroutine)
            finished = true
            throw TimeoutError(operation: "Command.run \(executable)", timeout: timeout.unsafelyUnwrapped)
        }
    }

    /// Starts `executable` and returns at once with its pid and the pipes asked for, to talk
    /// to it while it runs.
    ///
    /// Parks the calling coroutine only until the child has called `exec` (the spawner
    /// thread starts it; the hub keeps running). Call ``RunningProcess/wait(timeout:)`` for
    /// its status; the hub reaps it when it exits either way, and kills and reaps it at
    /// shutdown. A cancellation that arrives while the child starts is not lost: the next
    /// blocking call throws it (the child has started by then, and is yours to wait for).
    ///
    /// - Parameters:
    ///   - executable: A path, or a name looked up in `PATH`.
    ///   - arguments: The arguments after the program name (`argv[1...]`).
    ///   - environment: The child's whole environment; nil inherits this process's (see
    ///     ``inheritedEnvironment(adding:)``).
    ///   - workingDirectory: The child's current directory; nil keeps this process's.
    ///   - standardInput: `.pipe` (default) for ``RunningProcess/standardInput``, `.inherit`, `.discard`.
    ///   - standardOutput: `.pipe` (default) for ``RunningProcess/standardOutput``, `.inherit`, `.discard`.
    ///   - standardError: `.pipe` (default) for ``RunningProcess/standardError``, `.inherit`, `.discard`.
    ///   - killGracePeriod: Time between `SIGTERM` and `SIGKILL` when a wait times out.
    ///   - parentDeathSignal: A signal (such as `SIGKILL`) the child gets when this process
    ///     dies, however it dies (`PR_SET_PDEATHSIG`, set in the child before its `exec`);
    ///     nil (the default) lets the child outlive it. The kernel sends it when the thread
    ///     that started the child exits: the spawner thread, which lasts as long as the
    ///     process (a child spawned outside a coroutine is started by the hub's thread, and
    ///     gets the signal when that thread ends). A set-user-ID program drops it at `exec`.
    /// - Throws: ``ProcessError`` with ``ProcessError/Code/spawnFailed`` (`ENOENT` for a
    ///   missing executable, `EACCES`, `EAGAIN`) or ``ProcessError/Code/invalidArgument``;
    ///   ``WeaveError`` outside a hub.
    public static func spawn(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        standardInput: Redirection = .pipe,
        standardOutput: Redirection = .pipe,
        standardError: Redirection = .pipe,
        killGracePeriod: Duration = .seconds(2),
        parentDeathSignal: Int32? = nil
    ) throws -> RunningProcess {
        guard let hub = Hub.current else {
            throw WeaveError(.notInCoroutine, "Command.spawn must be called on a thread that runs a hub (inside Hub.run)")
        }
        guard killGracePeriod >= .zero else {
            throw ProcessError(.invalidArgument, "killGracePeriod must not be negative (it is \(killGracePeriod))")
        }
        if let parentDeathSignal, parentDeathSignal < 1 || parentDeathSignal > 64 {
            throw ProcessError(.invalidArgument, "parentDeathSignal \(parentDeathSignal) is not a signal number (1...64)")
        }
        try checkNoNUL(executable, "executable")
        for argument in arguments { try checkNoNUL(argument, "argument of \(executable)") }
        let environmentList = try environment.map(environmentStrings)
        if let workingDirectory {
            // Checked here: a failed chdir in the child would surface as an ENOENT that
            // seems to be about the executable.
            try checkNoNUL(workingDirectory, "working directory")
            var info = stat()
            guard stat(workingDirectory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw ProcessError(.invalidArgument, "cannot start \(executable): working directory \(workingDirectory) is not a directory (\(String(cString: strerror(errno))))")
            }
        }
        let path = try resolve(executable, searchPath: environment.map { $0["PATH"] } ?? currentPATH())
        return try RunningProcess(hub: hub, executable: path, arguments: arguments, environment: environmentList,
                                workingDirectory: workingDirectory, standardInput: standardInput,
                                standardOutput: standardOutput, standardError: standardError,
                                killGracePeriod: killGracePeriod, parentDeathSignal: parentDeathSignal)
    }

    /// This process's environment with `additions` added (replacing variables of the same
    /// name): the `environment` argument for a child that should see one more variable.
    public static func inheritedEnvironment(adding additions: [String: String] = [:]) -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        result.merge(additions) { _, added in added }
        return result
    }

    // MARK: - Internals

    /// `execvp`'s search: a name with a slash is used as is; otherwise the first executable
    /// regular file of that name in `searchPath` (an empty entry means the current directory).
    static func resolve(_ executable: String, searchPath: String?) throws -> String {
        guard !executable.isEmpty else {
            throw ProcessError(.spawnFailed, "cannot start a program with an empty name: ENOENT")
        }
        if executable.contains("/") { return executable }
        let searchPath = searchPath ?? "/usr/local/bin:/usr/bin:/bin"
        var deniedCandidate: String?
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + executable
            var info = stat()
            guard stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            deniedCandidate = deniedCandidate ?? candidate
        }
        if let deniedCandidate {
            throw ProcessError(.spawnFailed, "cannot start \(executable): EACCES (\(deniedCandidate) is not executable)")
        }
        throw ProcessError(.spawnFailed, "cannot start \(executable): ENOENT (not found in PATH \(searchPath))")
    }

    private static func currentPATH() -> String? {
        getenv("PATH").map { String(cString: $0) }
    }

    /// `NAME=value` strings, sorted so that children see a stable order.
    private static func environmentStrings(_ environment: [String: String]) throws -> [String] {
        try environment.sorted { $0.key < $1.key }.map { name, value in
            guard !name.isEmpty, !name.contains("="), !name.utf8.contains(0), !value.utf8.contains(0) else {
                throw ProcessError(.invalidArgument, "environment variable '\(name)' cannot be passed to a child (empty name, '=' in the name, or a NUL byte)")
            }
            return "\(name)=\(value)"
        }
    }

    private static func checkNoNUL(_ string: String, _ what: String) throws {
        // C strings end at the first NUL: the child would silently get a shorter string.
        guard !string.utf8.contains(0) else {
            throw ProcessError(.invalidArgument, "\(what) '\(string)' contains a NUL byte")
        }
    }

    /// Writes `input` and closes the pipe. A child that exits without reading it all makes
    /// the write fail with EPIPE (or ECONNRESET): that is the child's choice, not an error.
    private static func feed(_ stdin: StreamConnection, _ input: [UInt8], timeout: Duration?) throws {
        defer { stdin.close() }
        do {
            try stdin.write(input, timeout: timeout)
        } catch let error as UVError where error.code == UV_EPIPE.rawValue || error.code == UV_ECONNRESET.rawValue {
            return
        }
    }

    /// Reads `stream` to its end, refusing to keep more than `limit` bytes.
    private static func readAll(
        _ stream: StreamConnection, _ name: String, of child: RunningProcess, limit: Int, timeout: Duration?
    ) throws -> [UInt8] {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var bytes: [UInt8] = []
        while true {
            let chunk = try stream.read(upTo: 64 * 1024, timeout: deadline.map { $0 - .now })
            if chunk.isEmpty { return bytes }
            guard bytes.count + chunk.count <= limit else {
                throw ProcessError(.outputTooLarge, "\(child) wrote more than maxOutputSize (\(limit) bytes) to its \(name)")
            }
            bytes += chunk
        }
    }
}
