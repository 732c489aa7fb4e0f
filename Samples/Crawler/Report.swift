/// What fetching one URL gave.
struct Fetch {
    let url: String
    var status = 0
    var bytes = 0
    var latency = Duration.zero
    var error: String?
    var links: [String] = []

    /// `scheme://host[:port]` of the URL.
    var origin: String { Fetch.origin(of: url) }

    static func origin(of url: String) -> String {
        let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].hasSuffix(":"), parts[1].isEmpty else { return url }
        return "\(parts[0])//" + parts[2].prefix { $0 != "?" && $0 != "#" }
    }
}

/// The summary table: one row per origin and a total, columns aligned.
func summaryTable(_ results: [Fetch]) -> String {
    var origins: [String] = []
    for result in results where !origins.contains(result.origin) { origins.append(result.origin) }
    let header = ["ORIGIN", "PAGES", "BYTES", "2xx", "3xx", "4xx", "5xx", "ERR", "AVG MS"]
    var rows: [[String]] = []
    func row(_ name: String, _ fetches: [Fetch]) -> [String] {
        func count(_ range: Range<Int>) -> String { "\(fetches.filter { $0.error == nil && range.contains($0.status) }.count)" }
        let total = fetches.reduce(Duration.zero) { $0 + $1.latency }
        let average = fetches.isEmpty ? 0 : milliseconds(total) / Double(fetches.count)
        return [name, "\(fetches.count)", "\(fetches.reduce(0) { $0 + $1.bytes })", count(200..<300), count(300..<400),
                count(400..<500), count(500..<600), "\(fetches.filter { $0.error != nil }.count)", String(format1: average)]
    }
    for origin in origins { rows.append(row(origin, results.filter { $0.origin == origin })) }
    if origins.count > 1 { rows.append(row("total", results)) }
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { column, cell in
            let fill = String(repeating: " ", count: widths[column] - cell.count)
            return column == 0 ? cell + fill : fill + cell
        }.joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

extension String {
    /// `value` with one decimal.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
