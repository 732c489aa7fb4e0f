import Glibc

/// `posix_spawn` could not start a fixture's process.
public struct ServerSpawnError: Error, CustomStringConvertible {
    public let executable: String
    public let errorNumber: Int32
    public var description: String { "posix_spawn \(executable): \(String(cString: strerror(errorNumber)))" }
}

/// Starts `executable` with `arguments` for a test fixture (a server the tests talk to) and
/// returns its pid, with a clean signal state: the test process's threads block signals (the
/// hubs watch them), and a child inheriting that mask would ignore the SIGTERM meant to stop
/// it. Standard input is /dev/null; standard output and error go to the end of `log`, or to
/// /dev/null without one. `environment` nil passes this process's environment. With
/// `newProcessGroup`, the child leads a process group of its own (its pid is the group's id),
/// so that `kill(-pid, SIGKILL)` ends it with everything it started.
///
/// - Throws: ``ServerSpawnError`` when `posix_spawn` fails.
public func spawnServerProcess(
    _ executable: String, arguments: [String], log: String? = nil, environment: [String]? = nil,
    newProcessGroup: Bool = false
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // Only 0, 1 and 2: a descriptor another thread of the test process has open right now (a
    // probe's socket, a client connection) must not live on in a server that outlives it.
    try addCloseFrom(3, to: &actions)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var allSignals = sigset_t()
    sigfillset(&allSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
    if newProcessGroup {
        posix_spawnattr_setpgroup(&attributes, 0)
        flags |= POSIX_SPAWN_SETPGROUP
    }
    posix_spawnattr_setflags(&attributes, Int16(flags))
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var child: pid_t = 0
    let status: Int32
    if let environment {
        let envp = environment.map { strdup($0) } + [nil]
        defer { for variable in envp { free(variable) } }
        status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
    } else {
        status = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
    }
    guard status == 0 else { throw ServerSpawnError(executable: executable, errorNumber: status) }
    return child
}

/// Starts a small shell that kills `server` (SIGKILL) once this test process is gone, so a
/// crashed or killed test run leaves no server behind; it ends by itself when `server` does.
/// Returns the watchdog's pid: stop it with ``stopServerWatchdog(_:)`` after stopping `server`.
///
/// (A parent-death signal would not do: it follows the thread that spawned the child, and the
/// fixtures start servers from threads that may end before the suite does.)
public func watchServerProcess(_ server: pid_t) throws -> pid_t {
    let script = """
        while kill -0 \(getpid()) 2>/dev/null && kill -0 \(server) 2>/dev/null; do sleep 1; done
        kill -KILL \(server) 2>/dev/null
        """
    return try spawnServerProcess("/bin/sh", arguments: ["-c", script])
}

/// Kills and reaps a watchdog from ``watchServerProcess(_:)``.
public func stopServerWatchdog(_ watchdog: pid_t) {
    guard watchdog > 0 else { return }
    kill(watchdog, SIGKILL)
    var status: Int32 = 0
    waitpid(watchdog, &status, 0)
}
