import Glibc
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

/// A path unique to this process and call.
func temporaryFilePath(_ tag: String) -> String {
    "/tmp/weave-\(getpid())-\(tag)-\(UInt32.random(in: 0...UInt32.max))"
}

/// How many of this process's descriptors point at `path`.
private func descriptors(on path: String) -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = directoryEntryName(entry)
        var target = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard length > 0 else { continue }
        if String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) == path { count += 1 }
    }
    return count
}

@Suite("Files on libuv's thread pool")
struct FileTests {
    @Test("write, read back whole and at offsets, append, stat")
    func roundTrip() async throws {
        let path = temporaryFilePath("file")
        defer { unlink(path) }
        let (whole, middle, appended, status, afterClose) = try await onHub { () throws -> ([UInt8], [UInt8], String, FileStatus, Int) in
            let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try File.write(content, to: path)
            let whole = try File.readAll(path)
            let file = try File.open(path, mode: .readWrite)
            let middle = try file.read(upTo: 5, at: 1000)
            try file.write([1, 2, 3], at: 10)
            var buffer = [UInt8](repeating: 0, count: 4)
            let count = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 9) }
            #expect(count == 4 && buffer == [content[9], 1, 2, 3, ])
            try file.close()
            let log = try File.open(path + ".log", mode: .append)
            try log.write("one\n")
            try log.write("two\n")
            try log.close()
            let appended = String(decoding: try File.readAll(path + ".log"), as: UTF8.self)
            unlink(path + ".log")
            let status = try File.stat(path)
            var afterClose = 0
            do { _ = try file.read(upTo: 1) } catch let error as IOError where error.code == .closed { afterClose = 1 }
            return (whole, middle, appended, status, afterClose)
        }
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(whole == content)
        #expect(middle == Array(content[1000..<1005]))
        #expect(appended == "one\ntwo\n")
        #expect(status.size == 300_000 && status.isRegularFile && !status.isDirectory)
        #expect(afterClose == 1)
        #expect(descriptors(on: path) == 0)
    }

    @Test("a missing file is ENOENT naming the path; other errors are typed too")
    func errors() async throws {
        let path = temporaryFilePath("missing")
        let (open, stat, read, directory, tooLarge) = try await onHub { () throws -> (String, String, String, String, IOError.Code?) in
            func describe(_ body: () throws -> Void) -> String {
                do { try body() } catch { return "\(error)" }
                return "no error"
            }
            var tooLarge: IOError.Code?
            do { _ = try File.readAll("/proc/self/status", maxSize: 10) } catch let error as IOError { tooLarge = error.code }
            return (describe { _ = try File.open(path) }, describe { _ = try File.stat(path) },
                    describe { _ = try File.readAll(path) }, describe { try File.write([1], to: "/tmp") }, tooLarge)
        }
        #expect(open.hasPrefix("open \(path): ENOENT"))
        #expect(stat.hasPrefix("stat \(path): ENOENT"))
        #expect(read.hasPrefix("open \(path): ENOENT"))
        #expect(directory.hasPrefix("open /tmp: EISDIR"))
        #expect(tooLarge == .tooLarge)
    }

    @Test("a cancelled waiter leaves; the late callback frees everything and closes the fd")
    func cancellation() async throws {
        let fifo = temporaryFilePath("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let (cancelledOpen, cancelledRead, openLeft, readLeft) = try await onHub { () throws -> (Bool, Bool, Int, Int) in
            // Opening a FIFO for reading blocks a pool thread until a writer comes.
            let opener = try spawn { try File.open(fifo) }
            try Coroutine.sleep(for: .milliseconds(20))
            opener.cancel()
            try opener.wait()
            // Let the pool's open finish: nobody waits, so the callback must close it.
            let writer = Glibc.open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            // The request counts as outside work until its callback has run.
            let hub = Hub.current!
            for _ in 0..<1000 where hub.outsideWork != 0 { try Coroutine.sleep(for: .milliseconds(10)) }
            let openLeft = descriptors(on: fifo) - (writer >= 0 ? 1 : 0)
            if writer >= 0 { Glibc.close(writer) }

            // A read with no data blocks a pool thread; cancel its waiter, close the file.
            let file = try File.open(fifo, mode: .readWrite)
            let reader = try spawn { try file.read(upTo: 10) }
            try Coroutine.sleep(for: .milliseconds(20))
            reader.cancel()
            try reader.wait()
            try file.close()  // delayed until the read finishes
            let feeder = Glibc.open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            _ = Glibc.write(feeder, "x", 1)
            Glibc.close(feeder)
            for _ in 0..<1000 where hub.outsideWork != 0 { try Coroutine.sleep(for: .milliseconds(10)) }
            let readLeft = descriptors(on: fifo)
            return (opener.error is CancellationError, reader.error is CancellationError, openLeft, readLeft)
        }
        #expect(cancelledOpen)
        #expect(cancelledRead)
        #expect(openLeft == 0)
        #expect(readLeft == 0)
    }

    @Test("a request abandoned at shutdown completes while the hub closes: no crash, the fd is closed")
    func abandonedAtShutdown() async throws {
        let fifo = temporaryFilePath("shutdown")
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        // Feeds the FIFO once the read has been cancelled (a byte on `go` says so), a little
        // later, while the hub is (most likely) already closing. Waiting for the signal keeps
        // a slow, loaded machine from feeding it before the read was even cancelled.
        var go: [Int32] = [-1, -1]
        #expect(pipe(&go) == 0)
        let (goRead, goWrite) = (go[0], go[1])
        defer { Glibc.close(goRead); Glibc.close(goWrite) }
        let feeder = startThread {
            var byte: UInt8 = 0
            _ = Glibc.read(goRead, &byte, 1)
            usleep(100_000)
            let fd = Glibc.open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0 {
                _ = Glibc.write(fd, "x", 1)
                Glibc.close(fd)
            }
        }
        let cancelled = try await onHub { () throws -> Bool in
            let file = try File.open(fifo, mode: .readWrite)
            let reader = try spawn { try file.read(upTo: 10) }
            try Coroutine.sleep(for: .milliseconds(20))
            reader.cancel()
            try reader.wait()
            var byte: UInt8 = 1
            _ = Glibc.write(goWrite, &byte, 1)
            return reader.error is CancellationError
            // Hub.run now closes the hub; its read is still on the pool.
        }
        pthread_join(feeder, nil)
        #expect(cancelled)
        #expect(descriptors(on: fifo) == 0)
    }
}
