import Glibc

/// One `mmap`'d run of equally sized stacks, each with its guard region below it:
/// `[guard][stack][guard][stack]...`. Carving many stacks from one mapping keeps the
/// mapping count low (with `MADV_GUARD_INSTALL` a slab is one mapping however many
/// stacks it holds).
final class StackSlab {
    unowned let pool: StackPool
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// Bytes from one stack's guard to the next one's.
    let stride: Int
    let guardSize: Int
    let count: Int
    /// Mappings charged against ``MappingBudget`` for this slab.
    let mappings: Int
    /// Free slots, most recently freed last (reused first, while its pages are warm).
    @exclusivity(unchecked) var freeSlots: [Int32]
    /// Position in the allocator's list of slabs with free slots, or -1.
    @exclusivity(unchecked) var availableIndex = -1

    init(pool: StackPool, base: UnsafeMutableRawPointer, byteCount: Int, stride: Int, guardSize: Int, count: Int, mappings: Int) {
        self.pool = pool
        self.base = base
        self.byteCount = byteCount
        self.stride = stride
        self.guardSize = guardSize
        self.count = count
        self.mappings = mappings
        self.freeSlots = (0..<Int32(count)).reversed()
    }

    func guardLow(_ slot: Int) -> UnsafeMutableRawPointer { base + slot * stride }
    func stackLow(_ slot: Int) -> UnsafeMutableRawPointer { base + slot * stride + guardSize }
    func top(_ slot: Int) -> UnsafeMutableRawPointer { base + (slot + 1) * stride }
}
