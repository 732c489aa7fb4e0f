import WeaveCore

/// What the diagnostics layer runs beside one hub, as its configuration asks: the
/// blocked-loop watchdog (``Hub/Configuration/monitorsBlockedLoop``) and the `SIGUSR1`
/// dump (``Hub/Configuration/dumpsOnSIGUSR1``).
///
/// The hub does not know this type: it is installed as a ``HubHooks`` entry (see
/// ``installDiagnostics()``), made when each hub starts and told when it closes.
final class HubDiagnostics: HubAttachment {
    /// This hub's entry with the watchdog, when monitored.
    private var monitorWatch: BlockedLoopMonitor.Watch?
    /// Logs a dump on SIGUSR1, when configured.
    private var dumpSignal: DumpSignalWatcher?

    /// Starts what `hub`'s configuration asks for; nil when it asks for nothing.
    static func start(_ hub: Hub) -> HubDiagnostics? {
        let configuration = hub.configuration
        guard configuration.monitorsBlockedLoop || configuration.dumpsOnSIGUSR1 else { return nil }
        let diagnostics = HubDiagnostics()
        if configuration.monitorsBlockedLoop {
            // The watchdog names the stalled coroutine from C copies of its name and site.
            hub.copiesSpawnSites = true
            diagnostics.monitorWatch = BlockedLoopMonitor.shared.register(
                sched: hub.sched, threshold: configuration.blockedLoopThreshold, logger: hub.logger)
        }
        if configuration.dumpsOnSIGUSR1 {
            diagnostics.dumpSignal = DumpSignalWatcher(hub: hub)
        }
        return diagnostics
    }

    /// Stops both before the hub frees its scheduler and closes its loop.
    func hubClosing(_ hub: Hub) {
        if let watch = monitorWatch {
            BlockedLoopMonitor.shared.unregister(watch)
            monitorWatch = nil
        }
        dumpSignal?.close()
        dumpSignal = nil
    }
}

/// Installs ``HubDiagnostics`` into every hub created from now on. Idempotent.
///
/// Called before `main` by `CWeaveDiagnosticsInstall`'s constructor, in every program that
/// links this module (so every `import Weave` program): `Hub.run(configuration:)` then
/// honours the diagnostics options without a call from the user. A program that links only
/// `WeaveCore` has no diagnostics, and those options do nothing there.
@_cdecl("weave_diagnostics_install")
package func installDiagnostics() {
    HubHooks.install("WeaveDiagnostics", HubDiagnostics.start)
}
