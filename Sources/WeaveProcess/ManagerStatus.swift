import WeaveCore

/// How a manager answered a request.
enum ManagerStatus: UInt8 {
    case ok = 0, timedOut = 1, failed = 2, cancelled = 3

    static let requestKind: UInt8 = 1
    static let cancelKind: UInt8 = 2
}
