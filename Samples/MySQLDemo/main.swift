// mysql-demo: the course's MySQL exercise in Weave. Connects, creates a table, inserts with
// parameters, selects into structs, rolls back a transfer that would overdraw an account and
// commits one that does not, then reads balances from 10 coroutines through a pool of 3.
// With no --host it starts a throwaway MariaDB server (Debian: mariadb-server) and stops it
// at the end.
// Run: swift run mysql-demo   (or: swift run mysql-demo --host 127.0.0.1 --user me --password pw --database test)
import ArgumentParser
import MariaDBScratch
import SampleSupport
import Weave
import WeaveMySQL

struct Account: Decodable {
    let id: Int
    let owner: String
    let balance: Int
    let note: String?
}

/// Refused by the transfer itself, which rolls the transaction back.
struct InsufficientFunds: Error, CustomStringConvertible {
    let owner: String
    let balance: Int
    var description: String { "\(owner) has only \(balance)" }
}

struct MySQLDemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mysql-demo",
        abstract: "Connect, create a table, insert with parameters, select into structs, roll back a transaction.")

    @Option(help: "The server's address (none: start a throwaway local MariaDB server).")
    var host: String?

    @Option(help: "The server's port.")
    var port = 3306

    @Option(help: "The user to log in as.")
    var user = "root"

    @Option(help: "The user's password.")
    var password: String?

    @Option(help: "The database to use (it must exist).")
    var database = "test"

    func validate() throws {
        try requirePort(port)
    }

    func run() throws {
        var scratch: MariaDBScratchServer?
        let configuration: MySQLConfiguration
        if let host {
            configuration = MySQLConfiguration(host: host, port: port, user: user, password: password, database: database)
        } else {
            print("starting a throwaway MariaDB server...")
            let server = try MariaDBScratchServer.start()
            scratch = server
            print("server on 127.0.0.1:\(server.port), data in \(server.directory)")
            configuration = MySQLConfiguration(
                port: server.port, user: server.user, password: server.password, database: server.database)
        }
        defer { scratch?.stop() }
        try Hub.run { try demo(configuration) }
    }

    private func demo(_ configuration: MySQLConfiguration) throws {
        let connection = try MySQLConnection.connect(configuration)
        defer { connection.close() }
        let table = "weave_demo_accounts"
        try connection.execute("DROP TABLE IF EXISTS \(table)")
        try connection.execute("""
            CREATE TABLE \(table) (
                id INT AUTO_INCREMENT PRIMARY KEY, owner VARCHAR(50) NOT NULL,
                balance INT NOT NULL, note VARCHAR(100)) ENGINE=InnoDB
            """)
        defer { _ = try? connection.execute("DROP TABLE \(table)") }

        // Parameters travel beside the SQL (a prepared statement), never inside it.
        for (owner, balance, note) in [("alice", 100, nil), ("bob", 20, "new customer"), ("zoë", 5, "🚀")] as [(String, Int, String?)] {
            let result = try connection.execute(
                "INSERT INTO \(table) (owner, balance, note) VALUES (?, ?, ?)",
                MySQLValue(owner), MySQLValue(balance), .optional(note.map { MySQLValue($0) }))
            print("inserted \(owner) as id \(result.lastInsertID)")
        }
        try show(connection, table, "after the inserts")

        func transfer(_ amount: Int, from: String, to: String) throws {
            try connection.transaction { connection in
                try connection.execute("UPDATE \(table) SET balance = balance - ? WHERE owner = ?", MySQLValue(amount), MySQLValue(from))
                try connection.execute("UPDATE \(table) SET balance = balance + ? WHERE owner = ?", MySQLValue(amount), MySQLValue(to))
                let balance = try connection.query(Int.self, "SELECT balance FROM \(table) WHERE owner = ?", MySQLValue(from))[0]
                if balance < 0 { throw InsufficientFunds(owner: from, balance: balance + amount) }
            }
        }
        do {
            try transfer(50, from: "bob", to: "alice")
        } catch let error as InsufficientFunds {
            print("transfer of 50 from bob refused (\(error)): rolled back")
        }
        try show(connection, table, "after the refused transfer (unchanged)")
        try transfer(30, from: "alice", to: "zoë")
        try show(connection, table, "after alice sent zoë 30 (committed)")

        // Many coroutines, few connections: each waits for a free one, none blocks the hub.
        let pool = MySQLPool(configuration: configuration, maximumConnections: 3)
        defer { pool.close() }
        let readers = try (1...10).map { reader in
            try spawn { () throws -> Int in
                try pool.query(Int.self, "SELECT SUM(balance) + 0 * SLEEP(0.05) FROM \(table) WHERE id <= ?", MySQLValue(reader % 3 + 1))[0]
            }
        }
        let sums = try readers.map { try $0.join() }
        print("10 coroutines through a pool of 3 read sums \(sums)")
    }

    private func show(_ connection: MySQLConnection, _ table: String, _ title: String) throws {
        print("-- \(title)")
        for account in try connection.query(Account.self, "SELECT id, owner, balance, note FROM \(table) ORDER BY id") {
            print("  #\(account.id) \(account.owner): \(account.balance)\(account.note.map { " (\($0))" } ?? "")")
        }
    }
}

MySQLDemoCommand.main()
