import Glibc
import Weave
import WeaveTestSupport

/// Runs `HubGroup.run` on a pthread of its own and awaits its result, as `onHub` does for
/// one hub: the calling thread of a group is its hub 0, which must not be a thread of
/// Swift concurrency's pool.
func inHubGroup<T: Sendable>(
    hubs: Int, pinsThreadsToCores: Bool = false, configuration: Hub.Configuration = .init(),
    _ body: @escaping @Sendable (HubGroup) throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        pthread_detach(startThread {
            continuation.resume(with: Result {
                try HubGroup.run(hubs: hubs, pinsThreadsToCores: pinsThreadsToCores, configuration: configuration, body)
            })
        })
    }
}
