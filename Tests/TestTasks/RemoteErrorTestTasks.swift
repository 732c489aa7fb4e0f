import Weave

// Tasks whose errors the parent recovers (or, for a non-Codable error, names).

let remoteErrorTestTasks: [any ProcessTask.Type] = [CheckQuota.self, ThrowUnencodable.self]

/// A `Codable` error with fields of several kinds, recovered whole by the parent.
public struct QuotaExceeded: Error, Codable, Equatable, CustomStringConvertible {
    public let user: String
    public let used: Int
    public let limit: Int
    public let tags: [String]
    public init(user: String, used: Int, limit: Int, tags: [String]) {
        self.user = user
        self.used = used
        self.limit = limit
        self.tags = tags
    }
    public var description: String { "\(user) used \(used) of \(limit)" }
}

/// Returns `used`, or throws ``QuotaExceeded`` when it is above `limit`.
public struct CheckQuota: ProcessTask {
    public let user: String
    public let used: Int
    public let limit: Int
    public init(user: String, used: Int, limit: Int) {
        self.user = user
        self.used = used
        self.limit = limit
    }
    public func run() throws -> Int {
        guard used <= limit else { throw QuotaExceeded(user: user, used: used, limit: limit, tags: ["quota", user]) }
        return used
    }
}

/// An `Encodable` error that fails to encode: only its name and description come back.
public struct UnencodableError: Error, Codable, CustomStringConvertible {
    public let detail: String
    public init(detail: String) { self.detail = detail }
    public func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(detail, .init(codingPath: [], debugDescription: "refuses to be encoded"))
    }
    public var description: String { "unencodable: \(detail)" }
}

public struct ThrowUnencodable: ProcessTask {
    public let detail: String
    public init(detail: String) { self.detail = detail }
    public func run() throws -> Int { throw UnencodableError(detail: detail) }
}
