/// A place in the source (`#fileID:#line`), recorded where a coroutine is spawned or a
/// timeout scope is opened, for deadlock reports and error messages.
///
/// Holds the file ID as a `StaticString` (a pointer to the literal), so recording it on
/// every spawn costs no reference counting; ``fileID`` makes the `String` on demand.
public struct SourceLocation: Sendable, CustomStringConvertible {
    public let file: StaticString
    public let line: Int

    public init(fileID: StaticString, line: Int) {
        self.file = fileID
        self.line = line
    }

    /// The `#fileID` of the place, such as `MyApp/Server.swift`.
    public var fileID: String { file.description }

    public var description: String { "\(fileID):\(line)" }
}
