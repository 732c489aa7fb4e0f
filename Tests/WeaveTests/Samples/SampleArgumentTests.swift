import Testing
import Weave
import WeaveTestSupport

/// A sample program built next to the test bundle (the test target depends on its target).
private func samplePath(_ name: String) -> String {
    let directory = testWorkerPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return directory + "/" + name
}

/// Runs the sample `name` with `arguments` as a child process and returns what it printed.
private func runSample(_ name: String, _ arguments: [String]) async throws -> Command.Result {
    try await onHub {
        try Command.run(
            samplePath(name), arguments: arguments,
            environment: Command.inheritedEnvironment(adding: ["SWIFT_BACKTRACE": "enable=no"]),
            timeout: .seconds(60))
    }
}

/// ArgumentParser's exit status for a bad command line (sysexits' EX_USAGE).
private let usageError = TerminationStatus.exited(64)

@Suite("Sample command lines", .timeLimit(.minutes(2)))
struct SampleArgumentTests {
    @Test("--help exits 0 and prints the usage with every option", arguments: [
        ("echo-server", ["--host", "--port"]),
        ("prime-pool", ["--limit", "--tasks", "--workers"]),
        ("crawler", ["--host", "--port", "--count", "--concurrency", "<url>"]),
    ])
    func help(sample: String, options: [String]) async throws {
        let result = try await runSample(sample, ["--help"])
        #expect(result.status == .exited(0))
        #expect(result.outputString.contains("USAGE: \(sample)"))
        for option in options {
            #expect(result.outputString.contains(option), "\(sample) --help does not mention \(option)")
        }
    }

    @Test("an unknown flag is an error that names it", arguments: ["echo-server", "prime-pool", "crawler"])
    func unknownFlag(sample: String) async throws {
        let result = try await runSample(sample, ["--bogus-flag"])
        #expect(result.status == usageError)
        #expect(result.errorString.contains("Unknown option '--bogus-flag'"))
    }

    @Test("a value that is not a number is an error naming the option", arguments: [
        ("echo-server", "--port"),
        ("prime-pool", "--workers"),
        ("crawler", "--count"),
    ])
    func notANumber(sample: String, option: String) async throws {
        let result = try await runSample(sample, [option, "abc"])
        #expect(result.status == usageError)
        #expect(result.errorString.contains("The value 'abc' is invalid for '\(option) "))
    }

    @Test("a number out of range is an error naming the option and its range", arguments: [
        ("echo-server", ["--port=70000"], "--port must be from 0 to 65535, not 70000"),
        ("prime-pool", ["--workers=-3"], "--workers must be at least 1, not -3"),
        ("prime-pool", ["--tasks", "0"], "--tasks must be at least 1, not 0"),
        ("crawler", ["--concurrency", "0"], "--concurrency must be at least 1, not 0"),
    ])
    func outOfRange(sample: String, arguments: [String], message: String) async throws {
        let result = try await runSample(sample, arguments)
        #expect(result.status == usageError)
        #expect(result.errorString.contains(message))
    }

    @Test("a negative number after a flag is not taken as its value")
    func negativeValueApart() async throws {
        let result = try await runSample("prime-pool", ["--workers", "-3"])
        #expect(result.status == usageError)
        #expect(result.errorString.contains("Missing value for '--workers "))
    }

    @Test("a flag without a value does not swallow the next flag", arguments: [
        ("echo-server", ["--port", "--host", "127.0.0.1"]),
        ("crawler", ["--port", "--count", "3"]),
    ])
    func missingValue(sample: String, arguments: [String]) async throws {
        let result = try await runSample(sample, arguments)
        #expect(result.status == usageError)
        #expect(result.errorString.contains("Missing value for '--port "))
    }

    @Test("crawler refuses an argument that is not an http:// URL")
    func crawlerBadURL() async throws {
        let result = try await runSample("crawler", ["ftp://127.0.0.1/"])
        #expect(result.status == usageError)
        #expect(result.errorString.contains("'ftp://127.0.0.1/' is not an http://"))
    }

    @Test("prime-pool parses its options and still serves as its own pool's worker")
    func primePoolRuns() async throws {
        // Its workers re-run the program with no user arguments: they must never reach the parser.
        let result = try await runSample("prime-pool", ["--limit", "2000", "--tasks", "4", "--workers", "2"])
        #expect(result.status == .exited(0), "\(result.errorString)")
        #expect(result.outputString.contains("counting primes below 2000 in 4 tasks; 2 worker processes"))
        #expect(result.outputString.contains("303 primes below 2000"))
    }

    @Test("crawler crawls its built-in site with the options given")
    func crawlerRuns() async throws {
        let result = try await runSample("crawler", ["--count", "3", "--concurrency", "2"])
        #expect(result.status == .exited(0), "\(result.errorString)")
        #expect(result.outputString.contains("3 URLs, 3 ok, 0 non-2xx, 0 failed"))
        #expect(result.outputString.contains("with 2 at a time"))
    }
}
