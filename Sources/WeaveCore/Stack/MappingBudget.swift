import Glibc
import Synchronization

/// The process-wide share of `vm.max_map_count` that Weave's stacks may use.
///
/// Each `mprotect`'d guard splits a mapping in two, and hitting `max_map_count` fails not
/// only the spawn but later unrelated allocations (the Swift runtime then aborts). So stacks
/// are charged against a budget of half the limit, shared by every hub of the process, and
/// a spawn past it fails with ``WeaveError/Code/mappingBudgetExhausted``.
enum MappingBudget {
    private static let used = Atomic<Int>(0)

    /// Half of `/proc/sys/vm/max_map_count` (65530 by default), read once.
    static let limit: Int = {
        if let env = getenv("WEAVE_MAPPING_BUDGET"), let value = Int(String(cString: env)), value > 0 {
            return value
        }
        return (readMaxMapCount() ?? 65530) / 2
    }()

    static var inUse: Int { used.load(ordering: .relaxed) }

    /// Reserves `count` mappings, or returns false when that would pass the budget.
    /// More than half of the budget is in use: free slabs should go back at once rather than
    /// wait for their hub to go idle (a busy hub must not starve the others).
    static var isUnderPressure: Bool { inUse * 2 > limit }

    static func reserve(_ count: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            if current + count > limit { return false }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    static func release(_ count: Int) {
        used.subtract(count, ordering: .relaxed)
    }

    private static func readMaxMapCount() -> Int? {
        guard let file = fopen("/proc/sys/vm/max_map_count", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let value = Int(text.trimmingWhitespace), value > 0 else { return nil }
        return value
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<max(start, end)]
    }
}
