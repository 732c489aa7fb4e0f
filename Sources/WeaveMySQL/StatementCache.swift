import CMariaDB

/// A connection's prepared statements by SQL text, so a statement run again costs one round
/// trip (execute) instead of three (prepare, execute, close). Bounded: the least recently
/// used one is handed back to be closed.
struct StatementCache {
    static let capacity = 32

    private var statements: [String: UnsafeMutablePointer<MYSQL_STMT>] = [:]
    /// Least recently used first.
    private var order: [String] = []

    /// Removes and returns the statement for `sql`, if one is cached.
    mutating func take(_ sql: String) -> UnsafeMutablePointer<MYSQL_STMT>? {
        guard let statement = statements.removeValue(forKey: sql) else { return nil }
        order.removeAll { $0 == sql }
        return statement
    }

    /// Caches `statement` for `sql`; returns one that no longer fits, for the caller to close.
    mutating func put(_ sql: String, _ statement: UnsafeMutablePointer<MYSQL_STMT>) -> UnsafeMutablePointer<MYSQL_STMT>? {
        statements[sql] = statement
        order.append(sql)
        guard order.count > Self.capacity else { return nil }
        return statements.removeValue(forKey: order.removeFirst())
    }

    /// Empties the cache, returning every statement.
    mutating func removeAll() -> [UnsafeMutablePointer<MYSQL_STMT>] {
        defer {
            statements.removeAll()
            order.removeAll()
        }
        return Array(statements.values)
    }

    var count: Int { statements.count }
}
