// Command-line options shared by the samples: `--name value` pairs and positional numbers.
public struct Options {
    private var values: [String: String] = [:]
    /// Arguments that are not `--name value` pairs, in order.
    public private(set) var positional: [String] = []

    public init(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument.hasPrefix("--") {
                let name = String(argument.dropFirst(2))
                if let equals = name.firstIndex(of: "=") {
                    values[String(name[..<equals])] = String(name[name.index(after: equals)...])
                } else {
                    values[name] = iterator.next() ?? ""
                }
            } else {
                positional.append(argument)
            }
        }
    }

    public func string(_ name: String, default fallback: String) -> String {
        values[name] ?? fallback
    }

    public func int(_ name: String, default fallback: Int) -> Int {
        values[name].flatMap(Int.init) ?? fallback
    }

    /// The `--port` option, or the first positional argument (as the peers' harness passes it).
    public func port(default fallback: Int) -> Int {
        values["port"].flatMap(Int.init) ?? positional.first.flatMap(Int.init) ?? fallback
    }
}
