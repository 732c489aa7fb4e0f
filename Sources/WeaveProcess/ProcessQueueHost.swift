import WeaveCore

/// The items of a ``ProcessQueue`` and the getters waiting for them, in the parent.
final class ProcessQueueHost<Element: Codable & Sendable>: ManagerHost {
    static var putOp: UInt8 { 1 }
    static var getOp: UInt8 { 2 }
    static var countOp: UInt8 { 3 }
    /// Gives back an item a child's abandoned `get` was sent: queued whatever the bound
    /// (it was in the queue already), never answered.
    static var restoreOp: UInt8 { 4 }

    /// The most items queued; nil for unbounded.
    let maxSize: Int?
    private var items = FIFO<Element>()
    private var getters: [Getter] = []
    /// Puts waiting for room, first come first served.
    private var putters: [Putter] = []

    private enum Getter {
        case local(LocalGetter)
        case remote(ManagerRequest)
    }

    private enum Putter {
        case local(LocalPutter)
        case remote(ManagerRequest, Element)
    }

    final class LocalGetter {
        let event = Event(label: "ProcessQueue.get")
        var item: Element?
    }

    final class LocalPutter {
        let event = Event(label: "ProcessQueue.put")
        let item: Element
        /// Queued (or handed to a getter) by the time its wait ended.
        var isAdmitted = false
        init(_ item: Element) { self.item = item }
    }

    init(label: String, maxSize: Int?) {
        self.maxSize = maxSize
        super.init(label: label, maximumFrameSize: ProcessPool.defaultMaximumFrameSize)
    }

    var count: Int { items.count }
    /// Puts parked for room (for tests: a withdrawn put must not linger).
    var waitingPutters: Int { putters.count }
    /// Gets parked for an item, local or a child's (for tests: a dead child's get must go).
    var waitingGetters: Int { getters.count }

    private var isFull: Bool { maxSize.map { items.count >= $0 } ?? false }

    /// Puts `item`, parking while the queue is full.
    func put(_ item: Element, timeout: Duration?) throws {
        if admit(item) { return }
        let putter = LocalPutter(item)
        putters.append(.local(putter))
        do {
            try putter.event.wait(timeout: timeout)
        } catch {
            // Let in as the timeout or cancellation arrived: the put happened.
            if putter.isAdmitted { return }
            putters.removeAll { if case .local(let other) = $0 { return other === putter } else { return false } }
            throw error
        }
    }

    /// Hands `item` to the longest-waiting getter, or queues it if there is room; false if full.
    private func admit(_ item: Element) -> Bool {
        if deliver(item) { return true }
        if isFull { return false }
        items.append(item)
        return true
    }

    /// Hands `item` to the longest-waiting getter still waiting; false if there is none.
    private func deliver(_ item: Element) -> Bool {
        while !getters.isEmpty {
            switch getters.removeFirst() {
            case .local(let getter):
                getter.item = item
                getter.event.set()
                return true
            case .remote(let request):
                guard !request.isAnswered else { continue }
                request.reply(encoding: item)
                return true
            }
        }
        return false
    }

    /// Queues an item that had left the queue and must not be lost, whatever the bound.
    private func restore(_ item: Element) {
        if !deliver(item) { items.append(item) }
    }

    /// Takes the first item, letting the longest-waiting putter into the room it leaves.
    private func popFirst() -> Element? {
        guard let item = items.popFirst() else { return nil }
        while !isFull, !putters.isEmpty {
            switch putters.removeFirst() {
            case .local(let putter):
                items.append(putter.item)
                putter.isAdmitted = true
                putter.event.set()
            case .remote(let request, let waiting):
                guard !request.isAnswered else { continue }
                items.append(waiting)
                request.reply()
            }
        }
        return item
    }

    func get(timeout: Duration?) throws -> Element {
        if let item = popFirst() { return item }
        let getter = LocalGetter()
        getters.append(.local(getter))
        do {
            try getter.event.wait(timeout: timeout)
        } catch {
            getters.removeAll { if case .local(let other) = $0 { return other === getter } else { return false } }
            // Handed an item while the timeout or cancellation was on its way: pass it on.
            if let item = getter.item { restore(item) }
            throw error
        }
        return getter.item!
    }

    override func handle(_ request: ManagerRequest) {
        switch request.op {
        case Self.putOp:
            guard let item = request.decode(Element.self) else { return }
            // Full: the request waits for room (or its timeout, its cancellation, its link's end).
            if admit(item) { request.reply() } else { putters.append(.remote(request, item)) }
        case Self.restoreOp:
            guard let item = request.decode(Element.self) else { return }
            restore(item)
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

    override func withdraw(_ request: ManagerRequest) {
        getters.removeAll { if case .remote(let other) = $0 { return other === request } else { return false } }
        putters.removeAll { if case .remote(let other, _) = $0 { return other === request } else { return false } }
    }
}
