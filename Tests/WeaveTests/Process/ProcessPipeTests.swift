import Glibc
import TestTasks
import Testing
import Weave
import WeaveTestSupport

@Suite("ProcessPipe", .timeLimit(.minutes(3)))
struct ProcessPipeTests {
    @Test("values go both ways between parent and child")
    func roundTrips() async throws {
        try await onHub {
            let (mine, theirs) = try ProcessPipe.makePair()
            let child = try testChild(PipeDoubler(pipe: theirs, count: 100))
            #expect(throws: ProcessError.self) { try theirs.send(1) }  // sent to the child
            for value in 0..<100 { try mine.send(value) }
            for value in 0..<100 { #expect(try mine.receive(Int.self, timeout: .seconds(30)) == value * 2) }
            #expect(try child.join(timeout: .seconds(30)) == 100)
        }
    }

    @Test("values and raw messages arrive, then end of stream once the child exits")
    func endOfStream() async throws {
        try await onHub {
            let (mine, theirs) = try ProcessPipe.makePair()
            let child = try testChild(PipeGreeter(pipe: theirs))
            let pid = try child.join(timeout: .seconds(30))
            #expect(try mine.receive(String.self, timeout: .seconds(30)) == "hello from \(pid)")
            #expect(try mine.receiveBytes(timeout: .seconds(30)) == [1, 2, 3])
            do {
                _ = try mine.receive(String.self, timeout: .seconds(30))
                Issue.record("expected end of stream")
            } catch let error as ProcessError {
                #expect(error.code == .endOfStream)
            }
        }
    }

    @Test("receive times out when nothing comes")
    func timeout() async throws {
        try await onHub {
            let (mine, theirs) = try ProcessPipe.makePair()
            let child = try testChild(PipeDoubler(pipe: theirs, count: 1))
            #expect(throws: TimeoutError.self) { try mine.receive(Int.self, timeout: .milliseconds(50)) }
            try mine.send(21)
            #expect(try mine.receive(Int.self, timeout: .seconds(30)) == 42)
            _ = try child.join(timeout: .seconds(30))
        }
    }

    @Test("a message of the wrong kind or type is malformedFrame; the pipe stays usable")
    func wrongType() async throws {
        try await onHub {
            let (mine, theirs) = try ProcessPipe.makePair()
            _ = try testChild(PipeGreeter(pipe: theirs)).join(timeout: .seconds(30))
            #expect(throws: ProcessError.self) { try mine.receive(Int.self, timeout: .seconds(30)) }  // a String came
            do {
                _ = try mine.receive(String.self, timeout: .seconds(30))  // raw bytes came
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .malformedFrame)
            }
        }
    }

    @Test("garbage and oversized frames from the child are typed errors")
    func badFrames() async throws {
        try await onHub {
            // A frame of 5 bytes holding an unknown kind and no valid value.
            let (mine, theirs) = try ProcessPipe.makePair(maximumFrameSize: 1024)
            _ = try testChild(PipeWriteRaw(pipe: theirs, bytes: [5, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF])).join(timeout: .seconds(30))
            do {
                _ = try mine.receive(Int.self, timeout: .seconds(30))
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .malformedFrame)
            }
            // A length prefix of 1 GiB: refused before anything is buffered.
            let (big, bigChild) = try ProcessPipe.makePair(maximumFrameSize: 1024)
            _ = try testChild(PipeWriteRaw(pipe: bigChild, bytes: [0, 0, 0, 0x40, 1, 2, 3])).join(timeout: .seconds(30))
            do {
                _ = try big.receiveBytes(timeout: .seconds(30))
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .frameTooLarge)
                #expect(error.message.contains("1073741824"))
            }
            // Sending more than the maximum fails here, before anything is written.
            let (small, _) = try ProcessPipe.makePair(maximumFrameSize: 64)
            #expect(throws: ProcessError.self) { try small.send(bytes: [UInt8](repeating: 0, count: 100)) }
        }
    }

    @Test("a slow receiver makes the sender wait instead of buffering without bound; nothing is lost")
    func backpressure() async throws {
        try await onHub {
            let (mine, theirs) = try ProcessPipe.makePair()
            let child = try testChild(PipeFlood(pipe: theirs, count: 2000, size: 4096))  // 8 MiB
            try Coroutine.sleep(for: .milliseconds(300))
            #expect(child.isRunning)  // parked in send: the pipe stopped reading at about 1 MiB
            for index in 0..<2000 {
                let bytes = try mine.receiveBytes(timeout: .seconds(30))
                #expect(bytes.count == 4096 && bytes[0] == UInt8(truncatingIfNeeded: index >> 8) && bytes[1] == UInt8(truncatingIfNeeded: index))
            }
            #expect(try child.join(timeout: .seconds(30)) == 2000)
        }
    }
}
