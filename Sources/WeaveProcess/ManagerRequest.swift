import WeaveCore

/// A request from a child, answered once (now or later).
final class ManagerRequest {
    unowned let host: ManagerHost
    unowned let link: ManagerLink
    let id: UInt64
    let op: UInt8
    let payload: [UInt8]
    var timer: TimerNode?
    var isAnswered = false

    init(host: ManagerHost, link: ManagerLink, id: UInt64, op: UInt8, payload: [UInt8]) {
        self.host = host
        self.link = link
        self.id = id
        self.op = op
        self.payload = payload
    }

    /// Answers with `payload`.
    func reply(_ payload: [UInt8] = []) { answer(.ok) { $0.append(contentsOf: payload) } }

    /// Answers with a failure; `message` says why (for ``ManagerStatus/failed``).
    func fail(_ status: ManagerStatus, _ message: String) {
        answer(status) { WorkerProtocol.appendString(message, to: &$0) }
    }

    /// Answers with `value` encoded, or a failure naming the encoding error.
    func reply<Value: Encodable>(encoding value: Value) {
        do {
            reply(try BinaryEncoder().encode(value))
        } catch {
            fail(.failed, "\(host.label): cannot encode the answer: \(error)")
        }
    }

    private func answer(_ status: ManagerStatus, _ body: (inout [UInt8]) -> Void) {
        guard !isAnswered else { return }
        isAnswered = true
        link.pending[id] = nil
        if let timer { link.channel.hub.removeTimer(timer) }
        timer = nil
        do {
            try link.channel.appendFrame { frame in
                WorkerProtocol.appendVarint(id, to: &frame)
                frame.append(status.rawValue)
                body(&frame)
            }
            try link.channel.flush()
        } catch {
            // The child is gone (EPIPE) or the answer is too large: its link ends and its
            // call fails with end of stream.
            link.channel.end(error)
        }
    }

    /// Decodes the payload as `Value`, or answers with a failure and returns nil.
    func decode<Value: Decodable>(_ type: Value.Type) -> Value? {
        do {
            return try BinaryDecoder().decode(Value.self, from: payload)
        } catch {
            fail(.failed, "\(host.label): request does not decode as \(Value.self): \(error)")
            return nil
        }
    }
}
