import Weave

// Tasks whose arguments and outputs nest structs, enums with associated values, optionals,
// strings, arrays and dictionaries: they exercise the binary coder's reuse of encoders and
// containers across the values of a chunk and across chunks, in the parent and in workers.

public let codingTestTasks: [any ProcessTask.Type] = [Reshape.self]

public enum Shape: Codable, Equatable, Sendable {
    case circle(radius: Double)
    case polygon(sides: Int, label: String?)
    case empty
}

public struct Record: Codable, Equatable, Sendable {
    public var name: String
    public var values: [Int]
    public var shape: Shape
    public var tags: [String: [UInt16]]
    public var parent: [Record]
    public var note: String?

    public init(name: String, values: [Int], shape: Shape, tags: [String: [UInt16]], parent: [Record], note: String?) {
        self.name = name
        self.values = values
        self.shape = shape
        self.tags = tags
        self.parent = parent
        self.note = note
    }
}

/// Returns a record built from its argument: the same value on both sides of the pipe,
/// computed locally by `expected` for the test to compare with.
public struct Reshape: ProcessTask {
    public let index: Int
    public let record: Record

    public init(_ index: Int) {
        self.index = index
        let shape: Shape = index % 3 == 0 ? .circle(radius: Double(index) / 4) : (index % 3 == 1 ? .polygon(sides: index, label: index % 2 == 0 ? nil : "p\(index)") : .empty)
        record = Record(
            name: String(repeating: "é", count: index % 5), values: Array(0..<(index % 7)).map { $0 * index - 300 }, shape: shape,
            tags: index % 4 == 0 ? [:] : ["t\(index)": [UInt16(index % 65_536)], "": []],
            parent: index % 2 == 0 ? [] : [Record(name: "p", values: [index], shape: .empty, tags: [:], parent: [], note: nil)],
            note: index % 5 == 0 ? nil : "n\(index)")
    }

    public func run() throws -> Record { Self.expected(record, index) }

    public static func expected(_ record: Record, _ index: Int) -> Record {
        var out = record
        out.values = record.values.reversed() + [index]
        out.parent = [record] + record.parent
        out.note = record.note.map { $0 + "!" }
        return out
    }
}
