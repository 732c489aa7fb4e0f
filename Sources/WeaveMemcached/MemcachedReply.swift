/// One parsed meta-protocol reply. Error lines (`ERROR`, `CLIENT_ERROR`, `SERVER_ERROR`)
/// never become a reply: the parser throws them.
struct MemcachedReply {
    enum Status: UInt8 {
        /// `VA <size> <flags>`: a value follows.
        case value
        /// `HD`: success without a value.
        case stored
        /// `EN`: a miss (`mg`).
        case miss
        /// `NF`: not found (`md`, `ma`, a CAS store).
        case notFound
        /// `NS`: not stored.
        case notStored
        /// `EX`: the CAS token did not match.
        case exists
        /// `MN`: the end of a pipeline (`mn`).
        case noop
    }

    var status: Status
    var cas: UInt64?
    var clientFlags: UInt32?
    var opaque: UInt32?
    /// The value's bytes (``MemcachedReplyParser/ValueMode/bytes``).
    var value: [UInt8]?
    /// The value read as a decimal number (``MemcachedReplyParser/ValueMode/number``).
    var number: UInt64?

    init(status: Status) {
        self.status = status
    }
}
