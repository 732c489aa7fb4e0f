import CLibUV

/// Starts `arguments[0]` (a path: libuv does not search `PATH` for us) with `arguments` as
/// its `argv`, `environment` as its `envp` (nil inherits this process's), in
/// `workingDirectory` (nil keeps this process's), with `stdio` as descriptors 0, 1, 2...
///
/// Returns libuv's status: 0, or a negative error (`UV_ENOENT`, `UV_EACCES`: libuv reports
/// a failed `exec` here, and has reaped the failed child). The handle is initialised either
/// way and must be closed. The C strings live only for the call: libuv copies what it keeps.
func spawnProcess(
    loop: UnsafeMutablePointer<uv_loop_t>, handle: UnsafeMutablePointer<uv_process_t>,
    arguments: [String], environment: [String]?, workingDirectory: String?,
    stdio: [uv_stdio_container_t], onExit: uv_exit_cb
) -> Int32 {
    var stdio = stdio
    return CStringArray(arguments).withPointers { argv in
        withOptionalPointers(environment) { envp in
            withOptionalCString(workingDirectory) { cwd in
                stdio.withUnsafeMutableBufferPointer { stdio in
                    var options = uv_process_options_t()
                    options.exit_cb = onExit
                    options.file = UnsafePointer(argv[0])
                    options.args = argv
                    options.env = envp
                    options.cwd = cwd
                    options.stdio_count = Int32(stdio.count)
                    options.stdio = stdio.baseAddress
                    return uv_spawn(loop, handle, &options)
                }
            }
        }
    }
}

/// `body` with a NULL-terminated `char **` for `strings`, or NULL for nil.
private func withOptionalPointers<R>(
    _ strings: [String]?, _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> R
) -> R {
    guard let strings else { return body(nil) }
    return CStringArray(strings).withPointers { body($0) }
}

/// `body` with a C string for `string`, or NULL for nil.
private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
