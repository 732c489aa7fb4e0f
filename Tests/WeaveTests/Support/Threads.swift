import Glibc

/// Starts a plain pthread running `body` (for cross-thread tests).
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Job: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
        Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, Unmanaged.passRetained(Job(body)).toOpaque())
    precondition(status == 0)
    return thread
}
