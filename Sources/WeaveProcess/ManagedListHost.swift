import WeaveCore

/// The storage of a ``ManagedList``, in the owning process.
final class ManagedListHost<Element: Codable & Sendable>: ManagerHost {
    static var appendOp: UInt8 { 1 }
    static var snapshotOp: UInt8 { 2 }

    var storage: [Element] = []

    init(label: String) {
        super.init(label: label, maximumFrameSize: ProcessPool.defaultMaximumFrameSize)
    }

    override func handle(_ request: ManagerRequest) {
        switch request.op {
        case Self.appendOp:
            guard let element = request.decode(Element.self) else { return }
            storage.append(element)
            request.reply()
        case Self.snapshotOp:
            request.reply(encoding: storage)
        default:
            super.handle(request)
        }
    }
}
