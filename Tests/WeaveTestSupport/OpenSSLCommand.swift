import Glibc

/// Runs the `openssl` command line with `arguments` (standard input from /dev/null, its output
/// appended to `log`) and waits for it: how test targets make their CAs and certificates.
///
/// - Throws: ``TestCertificateError`` when `openssl` cannot be started or exits non-zero
///   (the message names the arguments and the log), or ``ServerSpawnError`` when the
///   spawn cannot be limited to descriptors 0, 1 and 2.
public func runOpenSSL(_ arguments: [String], log: String) throws {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    try addCloseFrom(3, to: &actions)
    let argv = (["openssl"] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let status = posix_spawnp(&pid, "openssl", &actions, nil, argv, environ)
    guard status == 0 else { throw TestCertificateError("cannot run openssl (apt-get install openssl): errno \(status)") }
    var exitStatus: Int32 = 0
    while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
    guard exitStatus == 0 else {
        throw TestCertificateError("openssl \(arguments.joined(separator: " ")) failed (status \(exitStatus)); see \(log)")
    }
}

/// Writes `text` to `path`, creating or truncating it (certificate extension files, configs).
///
/// - Throws: ``TestCertificateError`` when the file cannot be written.
public func writeTextFile(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw TestCertificateError("cannot create \(path): errno \(errno)") }
    defer { close(fd) }
    var text = text
    let written = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == text.utf8.count else { throw TestCertificateError("cannot write \(path)") }
}
