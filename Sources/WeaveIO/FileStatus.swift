import CLibUV
import WeaveCore

/// What `stat` says about a file.
public struct FileStatus: Sendable, Hashable {
    /// Size in bytes.
    public let size: Int64
    /// Permission and type bits (`st_mode`).
    public let mode: UInt32
    /// Last modification, whole seconds since the Unix epoch.
    public let modificationSeconds: Int
    /// Last modification, the nanoseconds past ``modificationSeconds``.
    public let modificationNanoseconds: Int
    /// The inode number.
    public let inode: UInt64
    /// The device holding the file.
    public let device: UInt64

    init(_ stat: uv_stat_t) {
        size = Int64(stat.st_size)
        mode = UInt32(truncatingIfNeeded: stat.st_mode)
        modificationSeconds = stat.st_mtim.tv_sec
        modificationNanoseconds = stat.st_mtim.tv_nsec
        inode = stat.st_ino
        device = stat.st_dev
    }

    /// A regular file (`S_IFREG`).
    public var isRegularFile: Bool { mode & 0o170000 == 0o100000 }
    /// A directory (`S_IFDIR`).
    public var isDirectory: Bool { mode & 0o170000 == 0o040000 }
}
