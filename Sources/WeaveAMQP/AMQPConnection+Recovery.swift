import WeaveCore
import WeaveIO

// Automatic recovery (AMQPConfiguration.automaticRecovery): on a lost transport the
// connection keeps its channels and consumers, reconnects every recoveryInterval (over TLS
// again when the configuration has it, with the context made at connect), opens the
// channels again under their numbers (with their prefetch and confirm mode), declares the
// recorded exchanges, queues and bindings again, and restarts the consumers under their tags.
extension AMQPConnection {
    /// Whether losing the connection this way is worth reconnecting for: the network, a
    /// silent broker, or a broker shutting down (320 CONNECTION_FORCED).
    private func isRecoverable(_ error: AMQPError) -> Bool {
        switch error.code {
        case .connectionLost, .heartbeatTimeout: return true
        case .connectionClosed: return error.replyCode == AMQPError.ReplyCode.connectionForced
        default: return false
        }
    }

    /// The transport of the current generation failed: recover, or end the connection.
    func lost(_ error: AMQPError) {
        guard failure == nil else { return }
        guard configuration.automaticRecovery, isRecoverable(error) else {
            fail(error)
            return
        }
        if outage == nil {
            outage = error
            dropTransport(error)
            do {
                recoveryCoroutine = try spawn(name: "amqp recovery \(configuration.host):\(configuration.port)") { [self] in recoverLoop() }
            } catch {
                fail(AMQPError(.connectionLost, "\(self): could not start recovering", underlying: error))
            }
        } else {
            // The new transport failed while the topology was being restored: try again.
            dropTransport(error)
        }
    }

    /// Ends the current transport and everything in flight on it, keeping channels and consumers.
    private func dropTransport(_ error: AMQPError) {
        generation += 1
        stream.close()
        output.buffer.removeAll(keepingCapacity: true)
        outputSwaps &+= 1
        closeAfterFlush = nil
        blockedReason = nil
        wakeWriter()
        heartbeatCoroutine?.cancel()
        heartbeatCoroutine = nil
        for channel in channels.values { channel.interrupt(error) }
    }

    private func recoverLoop() {
        while failure == nil {
            do {
                try Coroutine.sleep(for: configuration.recoveryInterval)
                try reconnect(over: try reconnectTransport())
                return
            } catch is CancellationError {
                return
            } catch {
                continue
            }
        }
    }

    private func reconnect(over transport: any ByteStream) throws {
        let reader = AMQPFrameReader(frameMax: max(configuration.frameMax, AMQPFrameType.minimumFrameMax))
        do {
            try handshake(stream: transport, reader: reader, deadline: configuration.connectTimeout.map { ContinuousClock.now + $0 })
        } catch {
            transport.close()
            throw error
        }
        reader.frameMax = frameMax
        generation += 1
        stream = transport
        try startCoroutines(stream: transport, reader: reader)
        let restoring = generation
        do {
            try restore()
        } catch {
            if generation == restoring { dropTransport(error as? AMQPError ?? AMQPError(.connectionLost, "\(self): recovery failed", underlying: error)) }
            throw error
        }
        outage = nil
        recoveryCount += 1
        recoveryCoroutine = nil
        wakeRecoveryWaiters()
        wakeFlowWaiters()
    }

    /// Channels first (same numbers), then the declared topology on a channel of its own,
    /// then the consumers, so that deliveries start only once their queues exist again.
    private func restore() throws {
        let open = channels.values.sorted { $0.id < $1.id }
        for channel in open { try channel.reopen() }
        let declaring = try openChannel()
        for exchange in topology.exchanges {
            try declaring.exchangeDeclare(exchange.name, type: exchange.type, durable: exchange.durable, autoDelete: exchange.autoDelete,
                                          internal: exchange.isInternal, arguments: exchange.arguments)
        }
        for queue in topology.queues {
            let state = try declaring.queueDeclare(queue.declaredName, durable: queue.durable, exclusive: queue.exclusive,
                                                   autoDelete: queue.autoDelete, arguments: queue.arguments)
            if state.name != queue.name {
                topology.rename(queue: queue.name, to: state.name)
                for channel in open { channel.renameQueue(queue.name, to: state.name) }
            }
        }
        for binding in topology.bindings {
            if binding.toExchange {
                try declaring.exchangeBind(destination: binding.destination, source: binding.source,
                                           routingKey: binding.routingKey, arguments: binding.arguments)
            } else {
                try declaring.queueBind(binding.destination, exchange: binding.source, routingKey: binding.routingKey,
                                        arguments: binding.arguments)
            }
        }
        try declaring.close()
        for channel in open { try channel.restartConsumers() }
    }

    /// Whether calls made now should be recorded for recovery (not the recovery's own).
    var recordsTopology: Bool {
        configuration.automaticRecovery && (recoveryCoroutine == nil || recoveryCoroutine !== AnyCoroutine.current)
    }

    /// Parks the caller while the connection recovers (the recovery's own calls go through).
    func waitForRecovery(timeout: Duration?) throws {
        guard outage != nil, failure == nil else { return }
        let coroutine = try AnyCoroutine.requireCurrent("AMQPConnection")
        if coroutine === recoveryCoroutine { return }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while outage != nil && failure == nil {
            recoveryWaiters.append(coroutine)
            do {
                try coroutine.park(.primitive(self, "recovery"), timeout: deadline.map { $0 - .now })
            } catch {
                recoveryWaiters.removeAll { $0 === coroutine }
                throw error
            }
        }
        if let failure { throw failure }
    }

    func wakeRecoveryWaiters() {
        let waiters = recoveryWaiters
        recoveryWaiters = []
        for waiter in waiters { hub.makeReady(waiter) }
    }
}
