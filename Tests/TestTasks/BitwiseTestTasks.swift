import Glibc
import Weave

// BitwiseProcessTask types: tasks and outputs that travel as their bytes.

let bitwiseTestTasks: [any ProcessTask.Type] = [BitwiseScale.self, BitwisePoison.self]

/// An output with padding (9 bytes of fields, a stride of 16) and mixed field types.
public struct BitwiseScaled: BitwiseCopyable, Codable, Sendable, Equatable {
    public var product: Double
    public var flag: Bool
    public init(product: Double, flag: Bool) {
        self.product = product
        self.flag = flag
    }
}

/// `value × factor`; throws for a negative value.
public struct BitwiseScale: BitwiseProcessTask {
    public let value: Int32
    public let factor: Double
    public let small: UInt8
    public init(value: Int32, factor: Double, small: UInt8 = 0) {
        self.value = value
        self.factor = factor
        self.small = small
    }
    public func run() throws -> BitwiseScaled {
        if value < 0 { throw TestFailure(reason: "negative \(value)") }
        return BitwiseScaled(product: Double(value) * factor + Double(small), flag: value % 2 == 0)
    }
}

/// Returns `index + 1`, except at `poison`, where it kills its worker.
public struct BitwisePoison: BitwiseProcessTask {
    public let index: Int
    public let poison: Int
    public init(index: Int, poison: Int) {
        self.index = index
        self.poison = poison
    }
    public func run() throws -> Int {
        if index == poison { kill(getpid(), SIGKILL) }
        return index + 1
    }
}

/// Travels under `Square`'s name while the worker knows `Square` as a plain (Codable)
/// task: the worker must refuse its bytes, not copy them into a `Square`.
public struct BitwiseImpostor: BitwiseProcessTask {
    public static var taskName: String { Square.taskName }
    public let value: Int
    public init(value: Int) { self.value = value }
    public func run() throws -> Int { value }
}
