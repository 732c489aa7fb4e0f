import WeaveCore

/// The state of a ``ProcessLock``, in the owning process.
final class ProcessLockHost: ManagerHost {
    static let acquireOp: UInt8 = 1
    static let releaseOp: UInt8 = 2

    private enum Holder: Equatable {
        case none, local
        case remote(ObjectIdentifier)
    }

    private enum Waiter {
        case local(LocalWaiter)
        case remote(ManagerRequest)
    }

    final class LocalWaiter {
        let event = Event(label: "ProcessLock.acquire")
        var granted = false
    }

    private var holder = Holder.none
    private var waiters: [Waiter] = []
    private(set) var ownerDeaths = 0

    var isLocked: Bool { holder != .none }

    init(label: String) {
        super.init(label: label, maximumFrameSize: 4096)
    }

    func acquire(timeout: Duration?) throws {
        if holder == .none {
            holder = .local
            return
        }
        let waiter = LocalWaiter()
        waiters.append(.local(waiter))
        do {
            try waiter.event.wait(timeout: timeout)
        } catch {
            waiters.removeAll { if case .local(let other) = $0 { return other === waiter } else { return false } }
            if waiter.granted { grantNext() }  // granted as we gave up: pass it on
            throw error
        }
    }

    func releaseLocal() throws {
        guard holder == .local else {
            throw WeaveError(.invalidArgument, "\(label).release: this process does not hold the lock")
        }
        grantNext()
    }

    /// Hands the lock to the first waiter still waiting, or leaves it free.
    private func grantNext() {
        holder = .none
        while !waiters.isEmpty {
            switch waiters.removeFirst() {
            case .local(let waiter):
                holder = .local
                waiter.granted = true
                waiter.event.set()
                return
            case .remote(let request):
                guard !request.isAnswered else { continue }
                holder = .remote(ObjectIdentifier(request.link))
                request.reply()
                return
            }
        }
    }

    override func handle(_ request: ManagerRequest) {
        switch request.op {
        case Self.acquireOp:
            if holder == .none {
                holder = .remote(ObjectIdentifier(request.link))
                request.reply()
            } else {
                waiters.append(.remote(request))
            }
        case Self.releaseOp:
            guard holder == .remote(ObjectIdentifier(request.link)) else {
                request.fail(.failed, "this process does not hold the lock")
                return
            }
            request.reply()
            grantNext()
        default:
            super.handle(request)
        }
    }

    override func withdraw(_ request: ManagerRequest) {
        waiters.removeAll { if case .remote(let other) = $0 { return other === request } else { return false } }
    }

    override func linkClosed(_ link: ManagerLink) {
        guard holder == .remote(ObjectIdentifier(link)) else { return }
        ownerDeaths += 1
        grantNext()
    }
}
