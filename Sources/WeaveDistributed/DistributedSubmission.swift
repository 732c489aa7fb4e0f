import WeaveCore
import WeaveProcess

/// The sink of one ``DistributedPool/submit(_:timeout:onSuccess:onFailure:)``: it settles
/// the caller's ``Future`` when the call's reply (or failure) comes, and hands the callbacks
/// to the pool's notifier coroutine. The pool holds it until then (a call holds its sink
/// weakly).
final class DistributedSubmission<Output: Codable>: DistributedCallSink {
    let future: Future<Output>
    private let onSuccess: ((Output) -> Void)?
    private let onFailure: ((any Error) -> Void)?
    /// Expires the call at its deadline: nobody parks on a submitted call to time it out.
    var timer: TimerNode?
    weak var pool: DistributedPool?
    /// The hub whose timer heap holds ``timer``.
    let hub: Hub

    init(future: Future<Output>, hub: Hub, onSuccess: ((Output) -> Void)?, onFailure: ((any Error) -> Void)?) {
        self.future = future
        self.hub = hub
        self.onSuccess = onSuccess
        self.onFailure = onFailure
    }

    func callFinished(_ call: DistributedCall) {
        if let timer {
            _ = hub.removeTimer(timer)
            self.timer = nil
        }
        let result: Result<Output, any Error>
        do {
            result = .success(try EncodedTask.decodeReply(call.outcome!.get(), count: 1, as: Output.self, what: call.what)[0])
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success(let output): try? future.set(output)
        case .failure(let error): try? future.fail(error)
        }
        guard let pool else { return }
        pool.submissionFinished(call)
        guard onSuccess != nil || onFailure != nil else { return }
        pool.notify(on: hub) { [onSuccess, onFailure] in
            switch result {
            case .success(let output): onSuccess?(output)
            case .failure(let error): onFailure?(error)
            }
        }
    }
}
