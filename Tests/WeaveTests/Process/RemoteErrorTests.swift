import Glibc
import TestTasks
import Testing
import Weave
@testable import WeaveProcess
import WeaveTestSupport

/// A task's thrown error as the parent gets it: its own `Codable` type rebuilt with every
/// field, or the type's name and description, through every way a task can run.
@Suite("remote errors", .timeLimit(.minutes(3)))
struct RemoteErrorTests {
    static let over = QuotaExceeded(user: "ada", used: 12, limit: 10, tags: ["quota", "ada"])

    /// Checks that `error` carries ``over``, recovered through every accessor.
    static func expectQuota(_ error: any Error, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        guard let error = error as? ProcessError else {
            Issue.record("expected a ProcessError, got \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == .remoteError, sourceLocation: sourceLocation)
        #expect(error.isRemote(QuotaExceeded.self), sourceLocation: sourceLocation)
        #expect(!error.isRemote(UnencodableError.self), sourceLocation: sourceLocation)
        #expect(error.remoteError(as: QuotaExceeded.self) == over, sourceLocation: sourceLocation)
        #expect(error.remote?.typeName == String(reflecting: QuotaExceeded.self), sourceLocation: sourceLocation)
        #expect(error.remote?.description == "ada used 12 of 10", sourceLocation: sourceLocation)
        #expect(error.remote?.isEncoded == true, sourceLocation: sourceLocation)
        #expect(error.message.contains("ada used 12 of 10"), sourceLocation: sourceLocation)
    }

    @Test("apply: a Codable error comes back as the caller's own type, every field intact, matched in a catch clause")
    func applyRecoversCodableError() async throws {
        try await onHub {
            let pool = try testPool(workers: 1)
            do {
                _ = try pool.apply(CheckQuota(user: "ada", used: 12, limit: 10))
                Issue.record("expected an error")
            } catch let error as ProcessError where error.isRemote(QuotaExceeded.self) {
                RemoteErrorTests.expectQuota(error)
                #expect(try error.remote?.decode(QuotaExceeded.self) == RemoteErrorTests.over)
            }
            #expect(try pool.apply(CheckQuota(user: "ada", used: 3, limit: 10)) == 3)
        }
    }

    @Test("a non-Codable error comes back by type name and description; decoding it says why not")
    func nonCodableErrorGivesTypeName() async throws {
        try await onHub {
            let pool = try testPool(workers: 1)
            do {
                _ = try pool.apply(Throwing("no codable"))
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.code == .remoteError)
                #expect(error.isRemote(TestTasks.TestFailure.self))
                #expect(!error.isRemote(QuotaExceeded.self))
                #expect(error.remote?.typeName == "TestTasks.TestFailure")
                #expect(error.remote?.description == "test failure: no codable")
                #expect(error.remote?.isEncoded == false)
                #expect(error.remoteError(as: QuotaExceeded.self) == nil)
                #expect(throws: DecodingError.self) { try error.remote?.decode(QuotaExceeded.self) }
            }
            // Encodable, but its encoding throws: still its name and description.
            do {
                _ = try pool.apply(ThrowUnencodable(detail: "x9"))
                Issue.record("expected an error")
            } catch let error as ProcessError {
                #expect(error.isRemote(UnencodableError.self))
                #expect(error.remote?.description == "unencodable: x9")
                #expect(error.remote?.isEncoded == false)
                #expect(error.remoteError(as: UnencodableError.self) == nil)
                #expect(throws: DecodingError.self) { try error.remote?.decode(UnencodableError.self) }
            }
        }
    }

    @Test("submit: the Future and onFailure both carry the recoverable error")
    func submitRecoversCodableError() async throws {
        try await onHub {
            let pool = try testPool(workers: 1)
            let failures = Box<[any Error]>([])
            let future = try pool.submit(CheckQuota(user: "ada", used: 12, limit: 10), onFailure: { failures.value.append($0) })
            #expect { _ = try future.get(timeout: .seconds(30)) } throws: { error in
                RemoteErrorTests.expectQuota(error)
                return true
            }
            try Coroutine.sleep(for: .milliseconds(1))  // onFailure runs in the pool's coroutine
            #expect(failures.value.count == 1)
            if let failure = failures.value.first { RemoteErrorTests.expectQuota(failure) }
        }
    }

    @Test("map throws the first failure in input order, recoverable; imap yields it at its index and goes on")
    func mapAndImapRecoverCodableError() async throws {
        try await onHub {
            let pool = try testPool(workers: 2)
            let tasks = [
                CheckQuota(user: "bob", used: 1, limit: 10), CheckQuota(user: "ada", used: 12, limit: 10),
                CheckQuota(user: "cy", used: 3, limit: 10),
            ]
            #expect { _ = try pool.map(tasks) } throws: { error in
                RemoteErrorTests.expectQuota(error)
                return true
            }
            for chunkSize in [1, 3] {
                var outputs: [Int] = []
                var failures: [ProcessError] = []
                for result in try pool.imap(tasks, chunkSize: chunkSize) {
                    switch result {
                    case .success(let output): outputs.append(output)
                    case .failure(let error): failures.append(try #require(error as? ProcessError))
                    }
                }
                for failure in failures { RemoteErrorTests.expectQuota(failure) }
                // A chunk is one unit of work: the whole chunk of 3 fails with the error.
                #expect(outputs == (chunkSize == 1 ? [1, 3] : []))
                #expect(failures.count == (chunkSize == 1 ? 1 : 3))
            }
        }
    }

    @Test("ChildProcess.join throws the recoverable error")
    func childRecoversCodableError() async throws {
        try await onHub {
            let child = try testChild(CheckQuota(user: "ada", used: 12, limit: 10))
            #expect { _ = try child.join(timeout: .seconds(30)) } throws: { error in
                RemoteErrorTests.expectQuota(error)
                return true
            }
            let plain = try testChild(Throwing("child plain"))
            #expect { _ = try plain.join(timeout: .seconds(30)) } throws: { error in
                (error as? ProcessError)?.isRemote(TestTasks.TestFailure.self) == true
                    && (error as? ProcessError)?.remote?.isEncoded == false
            }
        }
    }

    @Test("a failing initializer breaks the pool with its recoverable error")
    func initializerFailureIsRecoverable() async throws {
        try await onHub {
            let pool = try testPool(workers: 1, initializer: CheckQuota(user: "ada", used: 12, limit: 10))
            // A task already sent to the worker may run or die with it; the initializer's
            // answer comes first, so once that task is settled the pool is broken, and every
            // later task fails with the initializer's error.
            _ = try? pool.apply(Square(2), timeout: .seconds(30))
            #expect { _ = try pool.apply(Square(2), timeout: .seconds(30)) } throws: { error in
                RemoteErrorTests.expectQuota(error)
                return true
            }
        }
    }

    @Test("the failure frame's error field is optional: a frame without it reads as an unencoded error")
    func failureFrameIsCompatible() throws {
        let thrown = WorkerProtocol.Failure(thrown: RemoteErrorTests.over, maximumFrameSize: 1 << 20)
        #expect(thrown.encoded != nil)
        var frame: [UInt8] = []
        WorkerProtocol.appendFailure(taskID: 7, thrown, to: &frame)
        let withField = try frame.withUnsafeBytes { raw in
            var cursor = WorkerProtocol.Cursor(raw)
            _ = try cursor.byte()
            #expect(try cursor.varint() == 7)
            return try WorkerProtocol.Failure.read(&cursor)
        }
        #expect(try withField.remote.decode(QuotaExceeded.self) == RemoteErrorTests.over)
        // The frame an older worker sends: the same fields, nothing after the message.
        let older = Array(frame.dropLast(thrown.encoded!.count))
        let withoutField = try older.withUnsafeBytes { raw in
            var cursor = WorkerProtocol.Cursor(raw)
            _ = try cursor.byte()
            _ = try cursor.varint()
            return try WorkerProtocol.Failure.read(&cursor)
        }
        #expect(withoutField.kind == .thrown)
        #expect(withoutField.type == String(reflecting: QuotaExceeded.self))
        #expect(withoutField.encoded == nil)
        // An error too large for a frame comes back without its encoding.
        let tooLarge = WorkerProtocol.Failure(thrown: RemoteErrorTests.over, maximumFrameSize: 64)
        #expect(tooLarge.encoded == nil)
        #expect(tooLarge.message == "ada used 12 of 10")
    }
}
