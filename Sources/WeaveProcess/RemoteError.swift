import WeaveCore

/// An error that a ``ProcessTask`` threw in another process, as it came back to the caller
/// inside a ``ProcessError`` (``ProcessError/remote``).
///
/// Every remote error keeps its type's name and its description. An error whose type is
/// `Encodable` also comes back encoded (with ``BinaryEncoder``), and the caller gets its own
/// type back, with every field, when that type is `Decodable` too:
///
/// ```swift
/// struct QuotaExceeded: Error, Codable { let user: String; let limit: Int }
///
/// do {
///     _ = try pool.apply(Upload(user: "ada"))
/// } catch let error as ProcessError where error.isRemote(QuotaExceeded.self) {
///     if let quota = error.remoteError(as: QuotaExceeded.self) {
///         print("\(quota.user) is over \(quota.limit)")
///     }
/// }
/// ```
///
/// ``ProcessError/isRemote(_:)`` and ``ProcessError/remoteError(as:)`` are the short
/// forms of ``matches(_:)`` and ``decode(_:)``, which say why an error does not decode.
/// Types are matched by their module-qualified name (`String(reflecting:)`), the same in
/// both processes when they run the same code; a type whose name holds no stable path (a
/// `private` or local type) never matches. An error that fails to encode, or is too large
/// for a frame, comes back by name and description only.
public struct RemoteError: Sendable, CustomStringConvertible {
    /// The error's module-qualified type name in the other process (`MyModule.QuotaExceeded`).
    public let typeName: String
    /// The error's description (`String(describing:)`) in the other process.
    public let description: String
    /// The error in ``BinaryFormat``, when its type is `Encodable` and it encoded.
    let encoded: [UInt8]?

    init(typeName: String, description: String, encoded: [UInt8]?) {
        self.typeName = typeName
        self.description = description
        self.encoded = encoded
    }

    /// Whether the error came back encoded, so that ``decode(_:)`` can rebuild it.
    public var isEncoded: Bool { encoded != nil }

    /// Whether the error was of type `type` (compared by module-qualified name).
    public func matches<E: Error>(_ type: E.Type) -> Bool {
        typeName == String(reflecting: type)
    }

    /// Rebuilds the error as the `E` it was thrown as.
    ///
    /// - Throws: `DecodingError.typeMismatch` when the error was not an `E` or was not
    ///   `Encodable` (then only ``typeName`` and ``description`` came back);
    ///   `DecodingError.dataCorrupted` when its bytes do not decode as `E`.
    public func decode<E: Error & Decodable>(_ type: E.Type = E.self) throws -> E {
        guard matches(type) else {
            throw DecodingError.typeMismatch(type, .init(codingPath: [], debugDescription: "the remote error is a \(typeName), not a \(String(reflecting: type))"))
        }
        guard let encoded else {
            throw DecodingError.typeMismatch(type, .init(codingPath: [], debugDescription: "the remote \(typeName) is not Encodable: only its description came back"))
        }
        return try BinaryDecoder().decode(type, from: encoded)
    }
}
