import Logging
import Synchronization
import Testing
import Weave
@testable import WeaveCore
import WeaveTestSupport

/// What a recording hook saw, across threads (the hook runs on each hub's thread).
private let events = Mutex<[String]>([])

/// Attached only to hubs whose logger has `label`, so the hubs of other tests running in
/// parallel never reach it.
private final class Recorder: HubAttachment {
    let label: String
    init(label: String) { self.label = label }

    func hubClosing(_ hub: Hub) {
        events.withLock { $0.append("\(label): closing, \(hub.aliveCount) alive") }
    }
}

private func recorded(_ label: String) -> [String] {
    events.withLock { $0.filter { $0.hasPrefix(label + ":") } }
}

private func installRecorder() {
    HubHooks.install("test-recorder") { hub in
        let label = hub.logger.label
        guard label.hasPrefix("hooks-test-") else { return nil }
        events.withLock { $0.append("\(label): started, \(hub.aliveCount) alive, current \(Hub.current === hub)") }
        return Recorder(label: label)
    }
}

@Suite("hub hooks")
struct HubHooksTests {
    @Test("the diagnostics layer is installed before main, with no call: a monitored hub copies spawn sites")
    func diagnosticsInstallThemselves() async throws {
        #expect(HubHooks.installed.contains("WeaveDiagnostics"))
        var monitored = Hub.Configuration()
        monitored.monitorsBlockedLoop = true
        var plain = Hub.Configuration()
        plain.monitorsBlockedLoop = false
        #expect(try await onHub(configuration: monitored) { Hub.current!.copiesSpawnSites })
        #expect(try await onHub(configuration: plain) { Hub.current!.copiesSpawnSites } == false)
    }

    @Test("an installed hook starts on the hub's thread before any coroutine, and hears the close after the last one")
    func hookSeesStartAndClose() async throws {
        installRecorder()
        var configuration = Hub.Configuration()
        configuration.logger = Logger(label: "hooks-test-lifecycle")
        try await onHub(configuration: configuration) {
            events.withLock { $0.append("hooks-test-lifecycle: body") }
            let child = try spawn { try Coroutine.sleep(for: .milliseconds(5)) }
            try child.join()
        }
        #expect(recorded("hooks-test-lifecycle") == [
            "hooks-test-lifecycle: started, 0 alive, current true",
            "hooks-test-lifecycle: body",
            "hooks-test-lifecycle: closing, 0 alive",
        ])
    }

    @Test("installing under the same name twice keeps one entry, and a hook returning nil attaches nothing")
    func installIsIdempotent() async throws {
        installRecorder()
        installRecorder()
        #expect(HubHooks.installed.filter { $0 == "test-recorder" }.count == 1)
        var configuration = Hub.Configuration()
        configuration.logger = Logger(label: "not-recorded")
        try await onHub(configuration: configuration) {}
        #expect(recorded("not-recorded").isEmpty)
        // One hub, one start and one close, however often the hook was installed.
        configuration.logger = Logger(label: "hooks-test-once")
        try await onHub(configuration: configuration) {}
        #expect(recorded("hooks-test-once").count == 2)
    }
}
