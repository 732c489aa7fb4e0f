/// The items of a ``ProcessQueue`` and the getters waiting for them, in the parent.
final class ProcessQueueHost<Element: Codable & Sendable>: BrokerHost {
    static var putOp: UInt8 { 1 }
    static var getOp: UInt8 { 2 }
    static var countOp: UInt8 { 3 }

    private var items = FIFO<Element>()
    private var getters: [Getter] = []

    private enum Getter {
        case local(LocalGetter)
        case remote(BrokerRequest)
    }

    final class LocalGetter {
        let event = Event(label: "ProcessQueue.get")
        var item: Element?
    }

    init(label: String) {
        super.init(label: label, maximumFrameSize: ProcessPool.defaultMaximumFrameSize)
    }

    var count: Int { items.count }

    func put(_ item: Element) {
        while !getters.isEmpty {
            switch getters.removeFirst() {
            case .local(let getter):
                getter.item = item
                getter.event.set()
                return
            case .remote(let request):
                guard !request.isAnswered else { continue }
                request.reply(encoding: item)
                return
            }
        }
        items.append(item)
    }

    private func popFirst() -> Element? { items.popFirst() }

    func get(timeout: Duration?) throws -> Element {
        if let item = popFirst() { return item }
        let getter = LocalGetter()
        getters.append(.local(getter))
        do {
            try getter.event.wait(timeout: timeout)
        } catch {
            getters.removeAll { if case .local(let other) = $0 { return other === getter } else { return false } }
            // Handed an item while the timeout or cancellation was on its way: pass it on.
            if let item = getter.item { put(item) }
            throw error
        }
        return getter.item!
    }

    override func handle(_ request: BrokerRequest) {
        switch request.op {
        case Self.putOp:
            guard let item = request.decode(Element.self) else { return }
            put(item)
            request.reply()
        case Self.getOp:
            if let item = popFirst() {
                request.reply(encoding: item)
            } else {
                getters.append(.remote(request))
            }
        case Self.countOp:
            request.reply(encoding: count)
        default:
            super.handle(request)
        }
    }

    override func withdraw(_ request: BrokerRequest) {
        getters.removeAll { if case .remote(let other) = $0 { return other === request } else { return false } }
    }
}
