import CMariaDB
import Glibc

extension MySQLConnection {
    /// Runs `sql` and returns its rows (none for a statement without a result set).
    ///
    /// With parameters, `sql` is a prepared statement whose `?` placeholders take them in
    /// order (values never pass through the SQL text); without, it is sent as text, so
    /// statements that cannot be prepared work too. Rows are read whole before this returns.
    ///
    /// Blocks the calling coroutine until the last row arrived.
    ///
    /// - Throws: ``MySQLError`` (``MySQLError/Code/server`` with the server's number and SQL
    ///   state for a refused statement; ``MySQLError/Code/connectionLost`` when the server went
    ///   away; ``MySQLError/Code/closed`` after ``close()``), `TimeoutError` from an enclosing
    ///   `withTimeout` and `CancellationError`, both of which discard the connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: MySQLValue...) throws -> [MySQLRow] {
        try run(sql, parameters).first.rows
    }

    /// ``query(_:_:)`` with the parameters in an array.
    @discardableResult
    public func query(_ sql: String, parameters: [MySQLValue]) throws -> [MySQLRow] {
        try run(sql, parameters).first.rows
    }

    /// Runs `sql` and decodes each row into `type` (see ``MySQLRow/decode(_:)``).
    ///
    /// Blocks and throws as ``query(_:_:)`` does, and throws
    /// ``MySQLError/Code/decoding`` when a row does not fit `type`.
    public func query<Row: Decodable>(_ type: Row.Type, _ sql: String, _ parameters: MySQLValue...) throws -> [Row] {
        try run(sql, parameters).first.rows.map { try $0.decode(type) }
    }

    /// ``query(_:_:_:)`` with the parameters in an array.
    public func query<Row: Decodable>(_ type: Row.Type, _ sql: String, parameters: [MySQLValue]) throws -> [Row] {
        try run(sql, parameters).first.rows.map { try $0.decode(type) }
    }

    /// Runs `sql` and returns every result it produced, in order: a `CALL` of a procedure
    /// returns one per `SELECT` it ran and a final status; statements separated by `;`
    /// (allowed with ``MySQLConfiguration/allowsMultipleStatements``) one each.
    ///
    /// ``query(_:_:)`` and ``execute(_:_:)`` run such statements too, but return only the
    /// first result (reading and dropping the others, so the connection stays usable).
    /// Blocks until the last result arrived. When a later statement fails, this throws its
    /// error (the results before it are lost with it) and the connection stays usable.
    ///
    /// - Throws: as ``query(_:_:)`` does.
    @discardableResult
    public func queryResults(_ sql: String, _ parameters: MySQLValue...) throws -> [MySQLResult] {
        try run(sql, parameters, keepingAll: true).all
    }

    /// ``queryResults(_:_:)`` with the parameters in an array.
    @discardableResult
    public func queryResults(_ sql: String, parameters: [MySQLValue]) throws -> [MySQLResult] {
        try run(sql, parameters, keepingAll: true).all
    }

    /// Runs a statement that returns no rows (`INSERT`, `UPDATE`, `DELETE`, DDL) and says
    /// how many rows it affected and which `AUTO_INCREMENT` value it generated.
    ///
    /// Blocks and throws as ``query(_:_:)`` does.
    @discardableResult
    public func execute(_ sql: String, _ parameters: MySQLValue...) throws -> MySQLExecutionResult {
        try run(sql, parameters).first.execution
    }

    /// ``execute(_:_:)`` with the parameters in an array.
    @discardableResult
    public func execute(_ sql: String, parameters: [MySQLValue]) throws -> MySQLExecutionResult {
        try run(sql, parameters).first.execution
    }

    func run(_ sql: String, _ parameters: [MySQLValue], keepingAll: Bool = false) throws -> StatementOutcome {
        try perform(describe(sql)) {
            parameters.isEmpty ? try runText(sql, keepingAll) : try runPrepared(sql, parameters, keepingAll)
        }
    }

    /// `query 'SELECT …'`, shortened, for errors (built only when one is thrown).
    func describe(_ sql: String) -> String {
        let flat = sql.split(whereSeparator: \.isNewline).joined(separator: " ")
        return "query '\(flat.count > 120 ? flat.prefix(117) + "..." : flat)' on \(configuration.serverDescription)"
    }

    /// The text protocol: `mysql_send_query`, a wait for the reply, `mysql_read_query_result`,
    /// then each result whole with `mysql_store_result`.
    private func runText(_ sql: String, _ keepingAll: Bool) throws -> StatementOutcome {
        let handle = handle
        var status: Int32 = 0
        var text = sql
        try text.withUTF8 { bytes in
            // A String's UTF-8 is never empty-with-nil-base here: "" has a base too.
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            try drive {
                mysql_send_query_start(&status, handle, base, UInt(bytes.count))
            } resume: {
                mysql_send_query_cont(&status, handle, $0)
            }
        }
        if status != 0 { throw failure(describe(sql)) }
        // The reply is a round trip away: park for it first rather than let the library try
        // a read that fails with EAGAIN (a syscall per query for nothing). The wait has no
        // deadline of its own, as the library's has none (no read timeout is configured).
        try drive { MYSQL_WAIT_READ } resume: { _ in 0 }
        var failed: my_bool = 0
        try drive {
            mysql_read_query_result_start(&failed, handle)
        } resume: {
            mysql_read_query_result_cont(&failed, handle, $0)
        }
        if failed != 0 { throw failure(describe(sql)) }
        var outcome = StatementOutcome(first: try storeTextResult(sql))
        // More results (a CALL's status, further statements): read them all, so the
        // connection is in step for the next statement.
        while mysql_more_results(handle) != 0 {
            try drive { mysql_next_result_start(&status, handle) } resume: { mysql_next_result_cont(&status, handle, $0) }
            if status > 0 { throw failure(describe(sql)) }
            if status < 0 { break }  // -1: no more after all
            let result = try storeTextResult(sql)
            if keepingAll { outcome.more.append(result) }
        }
        return outcome
    }

    /// Reads the current result of the text protocol whole.
    private func storeTextResult(_ sql: String) throws -> MySQLResult {
        var stored: UnsafeMutablePointer<MYSQL_RES>?
        try drive { mysql_store_result_start(&stored, handle) } resume: { mysql_store_result_cont(&stored, handle, $0) }
        guard let result = stored else {
            if mysql_field_count(handle) != 0 { throw failure(describe(sql)) }
            return MySQLResult(columns: nil, rows: [], execution: MySQLExecutionResult(
                affectedRows: UInt64(mysql_affected_rows(handle)), lastInsertID: UInt64(mysql_insert_id(handle))))
        }
        // A stored result is in memory: fetching and freeing it does no I/O.
        defer { mysql_free_result(result) }
        let count = Int(mysql_num_fields(result))
        let columns = self.columns(mysql_fetch_fields(result), count: count)
        var rows: [MySQLRow] = []
        rows.reserveCapacity(Int(mysql_num_rows(result)))
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)!
            var cells: [[UInt8]?] = []
            cells.reserveCapacity(count)
            for column in 0..<count {
                if let field = row[column] {
                    let start = UnsafeRawPointer(field).assumingMemoryBound(to: UInt8.self)
                    cells.append(Array(UnsafeBufferPointer(start: start, count: Int(lengths[column]))))
                } else {
                    cells.append(nil)
                }
            }
            rows.append(MySQLRow(columns: columns, cells: cells))
        }
        return MySQLResult(columns: columns, rows: rows)
    }

    /// The binary protocol: prepare (or reuse the statement prepared for the same SQL
    /// before), bind, execute, store each result, fetch every column as text (Connector/C
    /// converts numbers and dates), and keep the statement for next time.
    private func runPrepared(_ sql: String, _ parameters: [MySQLValue], _ keepingAll: Bool) throws -> StatementOutcome {
        do {
            return try runPreparedOnce(sql, parameters, keepingAll)
        } catch let error as MySQLError where error.number == 2057 && isOpen {
            // CR_NEW_STMT_METADATA: the table changed under a kept statement (its result has
            // other columns now). The statement was closed on the way out; prepare it afresh.
            return try runPreparedOnce(sql, parameters, keepingAll)
        }
    }

    private func runPreparedOnce(_ sql: String, _ parameters: [MySQLValue], _ keepingAll: Bool) throws -> StatementOutcome {
        // Out of the cache while in use: an interrupted statement is freed here, not twice.
        let cached = statementCache.take(sql)
        guard let statement = cached ?? mysql_stmt_init(handle) else { throw failure(describe(sql)) }
        do {
            if cached == nil { try prepare(statement, sql) }
            let outcome = try runPrepared(statement, sql, parameters, keepingAll)
            if let evicted = statementCache.put(sql, statement) { try closeStatement(evicted) }
            return outcome
        } catch {
            if isOpen {
                try? closeStatement(statement)
            } else {
                // The connection is gone (mysql_close detached the statement): only free it.
                mysql_stmt_close(statement)
            }
            throw error
        }
    }

    private func closeStatement(_ statement: UnsafeMutablePointer<MYSQL_STMT>) throws {
        var failed: my_bool = 0
        try drive { mysql_stmt_close_start(&failed, statement) } resume: { mysql_stmt_close_cont(&failed, statement, $0) }
    }

    private func prepare(_ statement: UnsafeMutablePointer<MYSQL_STMT>, _ sql: String) throws {
        var status: Int32 = 0
        var text = sql
        try text.withUTF8 { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            try drive {
                mysql_stmt_prepare_start(&status, statement, base, UInt(bytes.count))
            } resume: {
                mysql_stmt_prepare_cont(&status, statement, $0)
            }
        }
        if status != 0 { throw statementFailure(statement, sql) }
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(statement, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)
    }

    private func statementFailure(_ statement: UnsafeMutablePointer<MYSQL_STMT>, _ sql: String) -> MySQLError {
        MySQLError(
            number: mysql_stmt_errno(statement), sqlState: String(cString: mysql_stmt_sqlstate(statement)),
            message: String(cString: mysql_stmt_error(statement)), operation: describe(sql))
    }

    private func runPrepared(
        _ statement: UnsafeMutablePointer<MYSQL_STMT>, _ sql: String, _ parameters: [MySQLValue], _ keepingAll: Bool
    ) throws -> StatementOutcome {
        var status: Int32 = 0
        let placeholders = Int(mysql_stmt_param_count(statement))
        guard placeholders == parameters.count else {
            throw MySQLError(
                .client, message: "the statement has \(placeholders) placeholders, \(parameters.count) parameters given",
                operation: describe(sql))
        }
        if mysql_stmt_bind_param(statement, parameterBindings.bind(parameters)) != 0 { throw statementFailure(statement, sql) }
        try drive { mysql_stmt_execute_start(&status, statement) } resume: { mysql_stmt_execute_cont(&status, statement, $0) }
        if status != 0 { throw statementFailure(statement, sql) }
        var outcome = StatementOutcome(first: try storePreparedResult(statement, sql))
        // A CALL's further results and final status: all read, so the statement can run again.
        while mysql_stmt_more_results(statement) != 0 {
            try drive {
                mysql_stmt_next_result_start(&status, statement)
            } resume: {
                mysql_stmt_next_result_cont(&status, statement, $0)
            }
            if status > 0 { throw statementFailure(statement, sql) }
            if status < 0 { break }
            let result = try storePreparedResult(statement, sql)
            if keepingAll { outcome.more.append(result) }
        }
        return outcome
    }

    /// Reads the statement's current result whole (rows fetched from the stored result).
    private func storePreparedResult(_ statement: UnsafeMutablePointer<MYSQL_STMT>, _ sql: String) throws -> MySQLResult {
        var status: Int32 = 0
        guard let metadata = mysql_stmt_result_metadata(statement) else {
            if mysql_stmt_field_count(statement) != 0 { throw statementFailure(statement, sql) }
            return MySQLResult(columns: nil, rows: [], execution: MySQLExecutionResult(
                affectedRows: UInt64(mysql_stmt_affected_rows(statement)),
                lastInsertID: UInt64(mysql_stmt_insert_id(statement))))
        }
        defer { mysql_free_result(metadata) }
        try drive {
            mysql_stmt_store_result_start(&status, statement)
        } resume: {
            mysql_stmt_store_result_cont(&status, statement, $0)
        }
        if status != 0 { throw statementFailure(statement, sql) }
        let count = Int(mysql_num_fields(metadata))
        let fields = mysql_fetch_fields(metadata)!
        let columns = self.columns(fields, count: count)
        let results: ResultBindings
        if let last = lastResultBindings, last.fits(fields, count: count) {
            results = last
        } else {
            results = ResultBindings(fields, count: count)
            lastResultBindings = results
        }
        if mysql_stmt_bind_result(statement, results.binds) != 0 { throw statementFailure(statement, sql) }

        var rows: [MySQLRow] = []
        rows.reserveCapacity(Int(mysql_stmt_num_rows(statement)))
        while true {
            // Rows come from the stored result: no I/O, so no drive.
            status = mysql_stmt_fetch(statement)
            if status == MYSQL_NO_DATA { break }
            if status != 0 && status != MYSQL_DATA_TRUNCATED { throw statementFailure(statement, sql) }
            var cells: [[UInt8]?] = []
            cells.reserveCapacity(count)
            for column in 0..<count {
                if results.isNull[column] != 0 {
                    cells.append(nil)
                } else if results.truncated[column] != 0 {
                    cells.append(try results.refetch(column, from: statement) { statementFailure(statement, sql) })
                } else {
                    cells.append(results.bytes(column))
                }
            }
            rows.append(MySQLRow(columns: columns, cells: cells))
        }
        var failed: my_bool = 0
        try drive {
            mysql_stmt_free_result_start(&failed, statement)
        } resume: {
            mysql_stmt_free_result_cont(&failed, statement, $0)
        }
        return MySQLResult(columns: columns, rows: rows)
    }
}

/// The `MYSQL_BIND`s of a statement's parameters and the memory they point into: one set
/// per connection, grown when a statement needs more and reused by the next, so binding
/// allocates nothing per query. Valid until the next ``bind(_:)``.
final class ParameterBindings {
    private var binds: UnsafeMutablePointer<MYSQL_BIND>
    /// Fixed-size values (integers, doubles, `MYSQL_TIME`s), one slot per parameter.
    private var scalars: UnsafeMutableRawPointer
    private var capacity: Int
    /// Text and bytes, back to back.
    private var bytes: UnsafeMutableRawPointer
    private var bytesCapacity: Int
    private static let slot = max(MemoryLayout<MYSQL_TIME>.stride, MemoryLayout<Int64>.stride)

    init() {
        capacity = 4
        binds = .allocate(capacity: capacity)
        binds.initialize(repeating: MYSQL_BIND(), count: capacity)
        scalars = .allocate(byteCount: capacity * Self.slot, alignment: 8)
        bytesCapacity = 256
        bytes = .allocate(byteCount: bytesCapacity, alignment: 1)
    }

    deinit {
        binds.deinitialize(count: capacity)
        binds.deallocate()
        scalars.deallocate()
        bytes.deallocate()
    }

    /// Binds `parameters` in order and returns the binds for `mysql_stmt_bind_param`.
    func bind(_ parameters: [MySQLValue]) -> UnsafeMutablePointer<MYSQL_BIND> {
        reserve(parameters)
        binds.update(repeating: MYSQL_BIND(), count: parameters.count)
        var offset = 0
        for (index, parameter) in parameters.enumerated() {
            switch parameter {
            case .null:
                binds[index].buffer_type = MYSQL_TYPE_NULL
            case .int(let value):
                bind(index, MYSQL_TYPE_LONGLONG, value)
            case .uint(let value):
                bind(index, MYSQL_TYPE_LONGLONG, value)
                binds[index].is_unsigned = 1
            case .double(let value):
                bind(index, MYSQL_TYPE_DOUBLE, value)
            case .string(var value):
                value.withUTF8 { bind(index, MYSQL_TYPE_STRING, UnsafeRawBufferPointer($0), at: &offset) }
            case .bytes(let value):
                value.withUnsafeBytes { bind(index, MYSQL_TYPE_BLOB, $0, at: &offset) }
            case .date(let value):
                bind(index, MYSQL_TYPE_DATETIME, MySQLTime.bound(value))
            case .time(let value):
                bind(index, MYSQL_TYPE_TIME, MySQLTime.bound(value))
            }
        }
        return binds
    }

    /// Grows the binds, slots and byte buffer to what `parameters` need.
    private func reserve(_ parameters: [MySQLValue]) {
        if parameters.count > capacity {
            binds.deinitialize(count: capacity)
            binds.deallocate()
            scalars.deallocate()
            capacity = max(parameters.count, capacity * 2)
            binds = .allocate(capacity: capacity)
            binds.initialize(repeating: MYSQL_BIND(), count: capacity)
            scalars = .allocate(byteCount: capacity * Self.slot, alignment: 8)
        }
        var needed = 0
        for parameter in parameters {
            switch parameter {
            case .string(let value): needed += value.utf8.count
            case .bytes(let value): needed += value.count
            default: break
            }
        }
        if needed > bytesCapacity {
            bytes.deallocate()
            bytesCapacity = max(needed, bytesCapacity * 2)
            bytes = .allocate(byteCount: bytesCapacity, alignment: 1)
        }
    }

    private func bind<T>(_ index: Int, _ type: enum_field_types, _ value: T) {
        let buffer = scalars + index * Self.slot
        buffer.storeBytes(of: value, as: T.self)
        binds[index].buffer_type = type
        binds[index].buffer = buffer
    }

    private func bind(_ index: Int, _ type: enum_field_types, _ value: UnsafeRawBufferPointer, at offset: inout Int) {
        let buffer = bytes + offset
        if let base = value.baseAddress { buffer.copyMemory(from: base, byteCount: value.count) }
        offset += value.count
        binds[index].buffer_type = type
        binds[index].buffer = buffer
        binds[index].buffer_length = UInt(value.count)
        // With `length` nil, Connector/C reads the length from `buffer_length`.
    }
}

/// The `MYSQL_BIND`s a result's columns are fetched into, every column as text or bytes;
/// kept by the connection for the next result that fits them.
final class ResultBindings {
    let binds: UnsafeMutablePointer<MYSQL_BIND>
    let lengths: UnsafeMutablePointer<UInt>
    let isNull: UnsafeMutablePointer<my_bool>
    let truncated: UnsafeMutablePointer<my_bool>
    private let buffers: [UnsafeMutableRawPointer]
    private let capacities: [Int]
    private let count: Int

    init(_ fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) {
        self.count = count
        binds = .allocate(capacity: count)
        binds.initialize(repeating: MYSQL_BIND(), count: count)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
        isNull = .allocate(capacity: count)
        isNull.initialize(repeating: 0, count: count)
        truncated = .allocate(capacity: count)
        truncated.initialize(repeating: 0, count: count)
        var buffers: [UnsafeMutableRawPointer] = []
        var capacities: [Int] = []
        for column in 0..<count {
            let capacity = Self.capacity(for: fields[column])
            capacities.append(capacity)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
            buffers.append(buffer)
            binds[column].buffer_type = MYSQL_TYPE_STRING
            binds[column].buffer = buffer
            binds[column].buffer_length = UInt(capacity)
            binds[column].length = lengths + column
            binds[column].is_null = isNull + column
            binds[column].error = truncated + column
        }
        self.buffers = buffers
        self.capacities = capacities
    }

    /// `max_length` is exact for strings after a stored result; numbers and dates converted
    /// to text may need more, which a truncation reports and `refetch` reads.
    private static func capacity(for field: MYSQL_FIELD) -> Int { max(Int(field.max_length), 64) + 1 }

    /// Whether every column of `fields` fits these buffers, so they can be bound again.
    func fits(_ fields: UnsafeMutablePointer<MYSQL_FIELD>, count: Int) -> Bool {
        guard count == self.count else { return false }
        for column in 0..<count where Self.capacity(for: fields[column]) > capacities[column] { return false }
        return true
    }

    func bytes(_ column: Int) -> [UInt8] {
        let start = UnsafeRawPointer(buffers[column]).assumingMemoryBound(to: UInt8.self)
        return Array(UnsafeBufferPointer(start: start, count: Int(lengths[column])))
    }

    /// Reads a column that did not fit its buffer (`mysql_stmt_fetch_column`, from the
    /// stored row: no I/O).
    func refetch(
        _ column: Int, from statement: UnsafeMutablePointer<MYSQL_STMT>, orThrow failure: () -> MySQLError
    ) throws -> [UInt8] {
        let length = Int(lengths[column])
        var bytes = [UInt8](repeating: 0, count: length + 1)
        var actual: UInt = 0
        var bind = MYSQL_BIND()
        try bytes.withUnsafeMutableBytes { buffer in
            bind.buffer_type = MYSQL_TYPE_STRING
            bind.buffer = buffer.baseAddress
            bind.buffer_length = UInt(buffer.count)
            try withUnsafeMutablePointer(to: &actual) { actualPointer in
                bind.length = actualPointer
                if mysql_stmt_fetch_column(statement, &bind, UInt32(column), 0) != 0 { throw failure() }
            }
        }
        return Array(bytes.prefix(Int(actual)))
    }

    deinit {
        buffers.forEach { $0.deallocate() }
        binds.deinitialize(count: count)
        binds.deallocate()
        lengths.deallocate()
        isNull.deallocate()
        truncated.deallocate()
    }
}
