/// A place in the source (`#fileID:#line`), recorded where a coroutine is spawned or a
/// timeout scope is opened, for deadlock reports and error messages.
public struct SourceLocation: Sendable, CustomStringConvertible {
    public let fileID: String
    public let line: Int

    public init(fileID: String, line: Int) {
        self.fileID = fileID
        self.line = line
    }

    public var description: String { "\(fileID):\(line)" }
}
