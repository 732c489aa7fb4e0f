import Glibc
import Testing
import Weave
import WeaveTestSupport

/// The highest open descriptor number of this process.
private func highestOpenDescriptor() -> Int32 {
    guard let directory = opendir("/proc/self/fd") else { return 1024 }
    defer { closedir(directory) }
    var highest: Int32 = 2
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        if let number = Int32(name) { highest = max(highest, number) }
    }
    return highest
}

/// CPU time (user + system) this process has used, in milliseconds.
private func cpuMilliseconds() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000
}

/// A blocking IPv4 TCP connect to 127.0.0.1:`port` (the handshake completes in the
/// listener's backlog even while the server cannot accept); -1 on failure.
private func rawConnect(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let status = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if status != 0 {
        close(fd)
        return -1
    }
    return fd
}

@Suite("descriptor exhaustion")
struct DescriptorExhaustionTests {
    @Test("a StreamServer out of descriptors (EMFILE) keeps serving its connections, does not spin, and accepts again once fds free up (child process)")
    func streamServerSurvivesEMFILE() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            // A low limit, so that filling the table is quick.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = rlim_t(highestOpenDescriptor() + 64)
            guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
                FileHandleStandardError.write("child failed: setrlimit \(errno)\n")
                exit(10)
            }
            do { try Hub.run {
                let server = try StreamServer(port: 0) { connection in
                    while let line = try connection.readLine() { try connection.write(line + "\n") }
                }
                try server.start()
                let port = server.localAddress!.port
                let first = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
                try first.write("one\n")
                guard try first.readLine(timeout: .seconds(10)) == "one" else { throw TestFailure(tag: "first round trip") }

                // Take every free descriptor, then give one back for a client whose
                // connection the server cannot accept.
                var placeholders: [Int32] = []
                while true {
                    let fd = dup(0)
                    if fd < 0 { break }
                    placeholders.append(fd)
                }
                guard errno == EMFILE, placeholders.count > 2 else { throw TestFailure(tag: "filling fds: errno \(errno)") }
                close(placeholders.removeLast())
                let starved = rawConnect(port: port)
                guard starved >= 0 else { throw TestFailure(tag: "raw connect \(errno)") }

                // The server now meets EMFILE. libuv sheds the pending connection with its
                // reserved descriptor (the client sees the end of the stream or a reset),
                // and the server must neither die nor spin.
                // The hub accepts at its next poll (the sleep below). A descriptor the process
                // freed since the table was filled (one the test runner handed the child, say)
                // would let it accept the client normally: take any such one first.
                var toppedUp = 0
                while true {
                    let fd = dup(0)
                    if fd < 0 { break }
                    placeholders.append(fd)
                    toppedUp += 1
                }
                let cpuBefore = cpuMilliseconds()
                try Coroutine.sleep(for: .milliseconds(500))
                let cpuUsed = cpuMilliseconds() - cpuBefore
                guard cpuUsed < 250 else { throw TestFailure(tag: "busy while out of fds: \(cpuUsed) ms CPU in 500 ms") }
                var byte: UInt8 = 0
                do {
                    try waitReadable(fd: starved, timeout: .seconds(10))
                } catch {
                    throw TestFailure(tag: "starved client never shed (\(toppedUp) descriptors freed before the wait): \(error)")
                }
                let count = read(starved, &byte, 1)
                guard count <= 0 else { throw TestFailure(tag: "starved client got data") }

                // The connection being served is undisturbed.
                try first.write("two\n")
                guard try first.readLine(timeout: .seconds(10)) == "two" else { throw TestFailure(tag: "served connection") }

                // Descriptors free up: the server accepts again.
                close(starved)
                for fd in placeholders { close(fd) }
                let later = try TCPConnection.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
                try later.write("three\n")
                guard try later.readLine(timeout: .seconds(10)) == "three" else { throw TestFailure(tag: "after recovery") }
                later.close()
                first.close()
                try server.stop()
            } } catch {
                // Exit 0 and report through stderr: a failed exit status would hide the
                // child's output from the check below (the result is nil on a mismatch).
                FileHandleStandardError.write("child failed: \(error)\n")
                exit(0)
            }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!stderr.contains("child failed"), "\(stderr.suffix(2000))")
    }
}
