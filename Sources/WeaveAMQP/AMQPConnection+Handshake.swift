import WeaveCore
import WeaveIO

extension AMQPConnection {
    /// What the client tells the broker it supports: the broker only sends `basic.nack`,
    /// `connection.blocked`, consumer cancellations and a `connection.close` on a failed
    /// login to clients that say so.
    static let capabilities: AMQPFieldTable = [
        "publisher_confirms": true, "exchange_exchange_bindings": true, "basic.nack": true,
        "consumer_cancel_notify": true, "connection.blocked": true, "authentication_failure_close": true,
        "per_consumer_qos": true,
    ]

    /// Runs the opening handshake on the caller's coroutine, before the reader and writer
    /// exist: protocol header, start/start-ok, tune/tune-ok, open/open-ok.
    func handshake<S: ByteStream>(stream: S, reader: AMQPFrameReader, deadline: ContinuousClock.Instant?) throws {
        func remaining() -> Duration? { deadline.map { $0 - .now } }
        var encoder = AMQPFrameEncoder(capacity: 1024)
        func send() throws {
            try encoder.buffer.withUnsafeBytes { try stream.write($0, timeout: remaining()) }
            encoder.buffer.removeAll(keepingCapacity: true)
        }
        /// The next method on channel 0 (heartbeats skipped); a `connection.close` ends the handshake.
        func expect(_ step: String) throws -> AMQPServerMethod {
            while true {
                let next: AMQPFrame?
                do {
                    next = try reader.next(from: stream, timeout: remaining())
                } catch let error as AMQPError where error.code == .connectionLost {
                    throw AMQPError(.handshakeFailed, "\(self): the broker closed the connection during the handshake (\(step))")
                }
                guard let frame = next else {
                    throw AMQPError(.handshakeFailed, "\(self): the broker closed the connection during the handshake (\(step))")
                }
                if frame.type == AMQPFrameType.heartbeat { continue }
                guard frame.type == AMQPFrameType.method, frame.channel == 0 else {
                    throw AMQPError(.protocolError, "\(self): a frame of type \(frame.type) on channel \(frame.channel) during the handshake")
                }
                let method = try AMQPServerMethod.decode(frame.payload)
                if case .connectionClose(let reason) = method {
                    encoder.method(channel: 0, .connectionCloseOk)
                    try? send()
                    let code: AMQPError.Code = reason.replyCode == AMQPError.ReplyCode.accessRefused ? .accessRefused : .handshakeFailed
                    throw AMQPError(code, "\(self): the broker refused the connection (\(step)) as user '\(configuration.username)'",
                                    replyCode: reason.replyCode, replyText: reason.replyText,
                                    classID: reason.classID, methodID: reason.methodID)
                }
                return method
            }
        }
        do {
            encoder.buffer.append(contentsOf: AMQPFrameType.protocolHeader)
            try send()
            guard case .connectionStart(let major, let minor, let properties, let mechanisms) = try expect("start") else {
                throw AMQPError(.handshakeFailed, "\(self): the broker did not start with connection.start")
            }
            guard major == 0, minor == 9 else {
                throw AMQPError(.handshakeFailed, "\(self): the broker speaks AMQP \(major)-\(minor), not 0-9-1")
            }
            guard mechanisms.split(separator: " ").contains("PLAIN") else {
                throw AMQPError(.handshakeFailed, "\(self): the broker does not offer PLAIN authentication (it offers \(mechanisms))")
            }
            serverPropertiesReceived(properties)
            var clientProperties: AMQPFieldTable = [
                "product": "Weave", "platform": "Swift", "capabilities": .table(Self.capabilities),
                "information": "https://github.com/weave (AMQP 0-9-1 client)",
            ]
            if let name = configuration.connectionName { clientProperties["connection_name"] = .string(name) }
            encoder.method(channel: 0, .connectionStartOk) {
                $0.writeTable(clientProperties)
                $0.writeShortString("PLAIN")
                $0.writeLongString("\u{0}\(configuration.username)\u{0}\(configuration.password)")
                $0.writeShortString("en_US")
            }
            try send()
            let tuned = try expect("authentication")
            guard case .connectionTune(let serverChannelMax, let serverFrameMax, let serverHeartbeat) = tuned else {
                if case .connectionSecure = tuned {
                    throw AMQPError(.handshakeFailed, "\(self): the broker asked for a SASL challenge, which PLAIN does not have")
                }
                throw AMQPError(.handshakeFailed, "\(self): the broker did not tune the connection")
            }
            negotiate(channelMax: Int(serverChannelMax), frameMax: Int(serverFrameMax), heartbeat: Int(serverHeartbeat))
            encoder.method(channel: 0, .connectionTuneOk) {
                $0.writeShort(UInt16(clamping: channelMax))
                $0.writeLong(UInt32(clamping: frameMax))
                $0.writeShort(UInt16(clamping: heartbeat.map { Int($0.components.seconds) } ?? 0))
            }
            encoder.method(channel: 0, .connectionOpen) {
                $0.writeShortString(configuration.virtualHost)
                $0.writeShortString("")
                $0.writeOctet(0)
            }
            try send()
            guard case .connectionOpenOk = try expect("opening virtual host '\(configuration.virtualHost)'") else {
                throw AMQPError(.handshakeFailed, "\(self): the broker did not open the virtual host")
            }
            lastRead = .now
            lastWrite = .now
        } catch let error as AMQPFrameError {
            throw AMQPError(.protocolError, "\(self): malformed frame during the handshake", underlying: error)
        }
    }

    /// The smaller non-zero value of each limit (zero meaning "no limit" on either side);
    /// heartbeats stay off when this side asks for none.
    private func negotiate(channelMax serverChannelMax: Int, frameMax serverFrameMax: Int, heartbeat serverHeartbeat: Int) {
        func smaller(_ ours: Int, _ theirs: Int) -> Int {
            if ours == 0 { return theirs }
            if theirs == 0 { return ours }
            return min(ours, theirs)
        }
        setTuning(
            channelMax: smaller(configuration.channelMax, serverChannelMax),
            frameMax: max(smaller(configuration.frameMax, serverFrameMax), AMQPFrameType.minimumFrameMax),
            heartbeatSeconds: configuration.heartbeat.map { max(1, Int($0.components.seconds)) }.map { smaller($0, serverHeartbeat) } ?? 0
        )
    }
}
