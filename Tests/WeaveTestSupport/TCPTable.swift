import Glibc

/// One IPv4 TCP socket of the machine, as `/proc/net/tcp` lists it.
public struct TCPTableRow: Sendable {
    public let localPort: Int
    public let remotePort: Int
    /// The kernel's state number (`0A` is LISTEN, `01` ESTABLISHED).
    public let state: String
    public let inode: String

    public var isListening: Bool { state == "0A" }
}

/// Every IPv4 TCP socket of the machine (every process's), from `/proc/net/tcp`.
public func tcpTable() -> [TCPTableRow] {
    guard let file = fopen("/proc/net/tcp", "r") else { return [] }
    defer { fclose(file) }
    var rows: [TCPTableRow] = []
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), file) != nil {
        let fields = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(separator: " ")
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        guard fields.count > 9, let local = fields[1].split(separator: ":").last, let remote = fields[2].split(separator: ":").last,
              let localPort = Int(local, radix: 16), let remotePort = Int(remote, radix: 16) else { continue }
        rows.append(TCPTableRow(localPort: localPort, remotePort: remotePort, state: String(fields[3]), inode: String(fields[9])))
    }
    return rows
}

/// The inodes of this process's open sockets (the N of `socket:[N]` in /proc/self/fd).
public func ownSocketInodes() -> Set<String> {
    guard let directory = opendir("/proc/self/fd") else { return [] }
    defer { closedir(directory) }
    var inodes: Set<String> = []
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        var target = [CChar](repeating: 0, count: 256)
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard length > 0 else { continue }
        let text = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("socket:["), text.hasSuffix("]") { inodes.insert(String(text.dropFirst(8).dropLast())) }
    }
    return inodes
}

/// How many sockets of this process listen on TCP `port`. Unlike a connection attempt, it
/// cannot be answered by another process (or test run) that has bound the port since.
public func listeningSocketsInThisProcess(port: Int) -> Int {
    let mine = ownSocketInodes()
    return tcpTable().filter { $0.isListening && $0.localPort == port && mine.contains($0.inode) }.count
}
