import WeaveCore

/// One child's connection to a ``ManagerHost``.
final class ManagerLink {
    let channel: FrameChannel
    /// Requests received and not yet answered, by id.
    var pending: [UInt64: ManagerRequest] = [:]

    init(channel: FrameChannel) { self.channel = channel }

    func close() {
        channel.onFrame = { _ in }
        channel.onEnd = { _ in }
        channel.close()
    }
}
