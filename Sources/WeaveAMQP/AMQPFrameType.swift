/// The frame types and constants of AMQP 0-9-1's framing (section 4.2.3).
enum AMQPFrameType {
    static let method: UInt8 = 1
    static let header: UInt8 = 2
    static let body: UInt8 = 3
    static let heartbeat: UInt8 = 8
    static let frameEnd: UInt8 = 0xCE
    /// Type, channel and size before a frame's payload.
    static let headerSize = 7
    /// The header and the frame-end octet around every payload.
    static let overhead = 8
    /// What a client sends first: `AMQP` 0 0 9 1.
    static let protocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]
    /// The smallest `frame-max` the protocol allows; every frame before tuning fits in it.
    static let minimumFrameMax = 4096
}

/// A method's class and method numbers (`queue.declare` is 50/10).
struct AMQPMethodID: Hashable, CustomStringConvertible {
    let classID: UInt16
    let methodID: UInt16

    init(_ classID: UInt16, _ methodID: UInt16) {
        self.classID = classID
        self.methodID = methodID
    }

    static let connectionStart = AMQPMethodID(10, 10), connectionStartOk = AMQPMethodID(10, 11)
    static let connectionSecure = AMQPMethodID(10, 20), connectionSecureOk = AMQPMethodID(10, 21)
    static let connectionTune = AMQPMethodID(10, 30), connectionTuneOk = AMQPMethodID(10, 31)
    static let connectionOpen = AMQPMethodID(10, 40), connectionOpenOk = AMQPMethodID(10, 41)
    static let connectionClose = AMQPMethodID(10, 50), connectionCloseOk = AMQPMethodID(10, 51)
    static let connectionBlocked = AMQPMethodID(10, 60), connectionUnblocked = AMQPMethodID(10, 61)
    static let channelOpen = AMQPMethodID(20, 10), channelOpenOk = AMQPMethodID(20, 11)
    static let channelFlow = AMQPMethodID(20, 20), channelFlowOk = AMQPMethodID(20, 21)
    static let channelClose = AMQPMethodID(20, 40), channelCloseOk = AMQPMethodID(20, 41)
    static let exchangeDeclare = AMQPMethodID(40, 10), exchangeDeclareOk = AMQPMethodID(40, 11)
    static let exchangeDelete = AMQPMethodID(40, 20), exchangeDeleteOk = AMQPMethodID(40, 21)
    static let exchangeBind = AMQPMethodID(40, 30), exchangeBindOk = AMQPMethodID(40, 31)
    static let exchangeUnbind = AMQPMethodID(40, 40), exchangeUnbindOk = AMQPMethodID(40, 51)
    static let queueDeclare = AMQPMethodID(50, 10), queueDeclareOk = AMQPMethodID(50, 11)
    static let queueBind = AMQPMethodID(50, 20), queueBindOk = AMQPMethodID(50, 21)
    static let queuePurge = AMQPMethodID(50, 30), queuePurgeOk = AMQPMethodID(50, 31)
    static let queueDelete = AMQPMethodID(50, 40), queueDeleteOk = AMQPMethodID(50, 41)
    static let queueUnbind = AMQPMethodID(50, 50), queueUnbindOk = AMQPMethodID(50, 51)
    static let basicQos = AMQPMethodID(60, 10), basicQosOk = AMQPMethodID(60, 11)
    static let basicConsume = AMQPMethodID(60, 20), basicConsumeOk = AMQPMethodID(60, 21)
    static let basicCancel = AMQPMethodID(60, 30), basicCancelOk = AMQPMethodID(60, 31)
    static let basicPublish = AMQPMethodID(60, 40), basicReturn = AMQPMethodID(60, 50)
    static let basicDeliver = AMQPMethodID(60, 60)
    static let basicGet = AMQPMethodID(60, 70), basicGetOk = AMQPMethodID(60, 71), basicGetEmpty = AMQPMethodID(60, 72)
    static let basicAck = AMQPMethodID(60, 80), basicReject = AMQPMethodID(60, 90)
    static let basicRecover = AMQPMethodID(60, 110), basicRecoverOk = AMQPMethodID(60, 111)
    static let basicNack = AMQPMethodID(60, 120)
    static let confirmSelect = AMQPMethodID(85, 10), confirmSelectOk = AMQPMethodID(85, 11)

    var description: String { "\(classID).\(methodID)" }
}
