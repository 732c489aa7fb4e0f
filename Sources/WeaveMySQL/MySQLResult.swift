/// One result of a statement: a result set (columns and rows) or a status (rows affected,
/// the generated id). A `CALL`, or several statements sent together, return several:
/// see ``MySQLConnection/queryResults(_:_:)``.
public struct MySQLResult: Sendable {
    let columns: MySQLColumns?
    /// The rows of a result set; empty for a status.
    public let rows: [MySQLRow]
    /// For a status: the rows affected and the `AUTO_INCREMENT` value generated (zeros for
    /// a result set).
    public let execution: MySQLExecutionResult

    init(columns: MySQLColumns?, rows: [MySQLRow], execution: MySQLExecutionResult = .none) {
        self.columns = columns
        self.rows = rows
        self.execution = execution
    }

    /// Whether this is a result set (it may have no rows), rather than a status.
    public var hasResultSet: Bool { columns != nil }

    /// The column names of a result set, in order; empty for a status.
    public var columnNames: [String] { columns?.names ?? [] }
}

/// What a statement that returns no rows did.
public struct MySQLExecutionResult: Sendable, Hashable {
    /// Rows inserted, updated or deleted (for an `UPDATE`, the rows actually changed).
    public let affectedRows: UInt64
    /// The `AUTO_INCREMENT` value the statement generated (0 if none).
    public let lastInsertID: UInt64

    static let none = MySQLExecutionResult(affectedRows: 0, lastInsertID: 0)
}

/// Every result of one statement: the first kept apart, so that the common case of one
/// result allocates no array for the rest.
struct StatementOutcome {
    var first: MySQLResult
    var more: [MySQLResult] = []

    var all: [MySQLResult] { [first] + more }
}
