import Foundation
import Glibc
import Testing
import WeaveTestSupport

/// The fixtures' spawn starts servers with only descriptors 0, 1 and 2. A server that
/// inherited, say, another test's probe connection would hold it open for its whole life,
/// and that test would count one client too many at its server.
@Suite("Test fixtures' child processes")
struct ServerProcessSpawnTests {
    @Test("a server spawned while this process has a socket open without close-on-exec does not inherit it")
    func noInheritedDescriptors() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socketFD > 2)
        defer { close(socketFD) }
        let directory = try makeScratchDirectory("spawn-fds")
        let report = "\(directory)/report"
        // The shell reports which descriptors above 2 it has besides its own script's.
        let child = try spawnServerProcess("/bin/sh", arguments: [
            "-c", "if [ -e /proc/$$/fd/\(socketFD) ]; then echo inherited > \(report); else echo clean > \(report); fi",
        ])
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        #expect(status == 0)
        #expect(try String(contentsOfFile: report, encoding: .utf8) == "clean\n")
    }
}
