import WeaveCore
import Logging

extension Logger.MetadataProvider {
    /// `provider`, run with `ServiceContext.current` bound to the current coroutine's
    /// ``Weave/Coroutine/serviceContext``, so that a provider written for tasks (trace ids from the
    /// task-local) also tags what coroutines log.
    ///
    /// ```swift
    /// LoggingSystem.bootstrap(StreamLogHandler.standardOutput,
    ///                         metadataProvider: .bindingCoroutineServiceContext(.otel))
    /// ```
    ///
    /// Outside any coroutine, and in a coroutine with no context of its own, `provider`
    /// sees `ServiceContext.current` as it is.
    public static func bindingCoroutineServiceContext(_ provider: Logger.MetadataProvider) -> Logger.MetadataProvider {
        Logger.MetadataProvider {
            // A provider runs inside a log call and does not block: binding the task-local is safe.
            Coroutine.bindingServiceContext { provider.get() }
        }
    }
}
