import CWeaveContext
import Glibc

/// Hands out guarded coroutine stacks and takes them back; one per hub, used only on the
/// hub's thread.
///
/// Stacks come from slabs, one ``StackPool`` per stack size, and are reused as they are
/// (their pages stay committed, so reuse costs no syscall). Memory is reserved with
/// `MAP_NORESERVE` and committed lazily, page by page, as a stack grows.
final class StackAllocator {
    /// Usable bytes of a default stack.
    let stackSize: Int
    let guardSize: Int
    /// Free stacks each size's pool keeps (rounded up to whole slabs).
    let poolCapacity: Int
    let usesMprotect: Bool
    private let defaultPool: StackPool
    private var otherPools: [Int: StackPool] = [:]

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// `MADV_GUARD_INSTALL`, missing from Debian 12's headers.
    static let madvGuardInstall: Int32 = 102

    /// Whether the kernel takes `MADV_GUARD_INSTALL` (Linux 6.13+).
    static let kernelHasGuardInstall: Bool = {
        let page = pageSize
        guard let probe = mmap(nil, page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              probe != MAP_FAILED else { return false }
        defer { munmap(probe, page * 2) }
        return madvise(probe, page, madvGuardInstall) == 0
    }()

    init(stackSize: Int, guardSize: Int, poolCapacity: Int, guardMode: GuardMode) {
        self.stackSize = StackAllocator.roundToPages(stackSize)
        self.guardSize = StackAllocator.roundToPages(guardSize)
        self.poolCapacity = poolCapacity
        self.usesMprotect = guardMode == .mprotect || !StackAllocator.kernelHasGuardInstall
        self.defaultPool = StackPool(stackSize: self.stackSize, guardSize: self.guardSize,
                                     poolCapacity: poolCapacity, usesMprotect: usesMprotect)
    }

    static func roundToPages(_ bytes: Int) -> Int {
        let page = pageSize
        return max(page, (bytes + page - 1) / page * page)
    }

    /// A stack ready for `weave_fiber_create`.
    struct Allocation {
        var guardLow: UnsafeMutableRawPointer
        var stackLow: UnsafeMutableRawPointer
        var top: UnsafeMutableRawPointer
        var region: UnsafeMutableRawPointer
        var slot: UInt32
    }

    /// Returns a stack of `size` usable bytes (the default size when nil).
    func allocate(size: Int?) throws(WeaveError) -> Allocation {
        guard let size else { return try defaultPool.allocate() }
        let rounded = StackAllocator.roundToPages(size)
        if rounded == stackSize { return try defaultPool.allocate() }
        if let pool = otherPools[rounded] { return try pool.allocate() }
        let pool = StackPool(stackSize: rounded, guardSize: guardSize, poolCapacity: poolCapacity, usesMprotect: usesMprotect)
        otherPools[rounded] = pool
        return try pool.allocate()
    }

    /// Takes back the stack of a finished fiber. The fiber must never run again.
    func release(_ fiber: UnsafeMutablePointer<weave_fiber>) {
        let slab = Unmanaged<StackSlab>.fromOpaque(fiber.pointee.region).takeUnretainedValue()
        slab.pool.release(slab: slab, slot: Int(fiber.pointee.slot))
    }

    /// Gives back memory above each pool's cap (wholly free slabs); see ``StackPool/trim()``.
    func trim() {
        defaultPool.trim()
        for pool in otherPools.values { pool.trim() }
    }

    /// Unmaps every slab. Only when no stack is in use (the hub has finished).
    func destroy() {
        defaultPool.destroy()
        for pool in otherPools.values { pool.destroy() }
    }

    private var pools: [StackPool] { [defaultPool] + Array(otherPools.values) }
    /// Free stacks across all sizes.
    var freeCount: Int { pools.reduce(0) { $0 + $1.freeCount } }
    /// Stacks currently handed out.
    var inUse: Int { pools.reduce(0) { $0 + $1.inUse } }
    /// The most free stacks any one size keeps.
    var poolLimit: Int { poolCapacity + defaultPool.slabCapacity }
    /// Mappings charged for all slabs.
    var mappingCount: Int { pools.reduce(0) { $0 + $1.mappingCount } }
}
