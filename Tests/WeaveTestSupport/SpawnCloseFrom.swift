import Glibc

/// Adds glibc's "close every descriptor from `lowest` up" action to `actions`, so a child
/// starts with only the descriptors its file actions set up. Without it a child inherits
/// whatever another thread of the test process had open at that moment without
/// close-on-exec, and a server that outlives that thread keeps, say, a probe's connection
/// to another server open.
///
/// glibc has `posix_spawn_file_actions_addclosefrom_np` since 2.34, but declares it only for
/// `_GNU_SOURCE`, which Swift's Glibc module is built without; hence the lookup by name.
///
/// - Throws: ``ServerSpawnError`` when this glibc lacks the call or refuses the action.
public func addCloseFrom(_ lowest: Int32, to actions: inout posix_spawn_file_actions_t) throws {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    let name = "posix_spawn_file_actions_addclosefrom_np"
    // RTLD_DEFAULT is the null handle in glibc.
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
        throw ServerSpawnError(executable: name, errorNumber: ENOSYS)
    }
    let status = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
    guard status == 0 else { throw ServerSpawnError(executable: name, errorNumber: status) }
}
