import Glibc

/// A set of cores as `sched_getaffinity` reports it (glibc's `CPU_*` macros are not
/// visible from Swift, so the bits are read and set here).
struct CoreSet {
    // glibc declares both calls only under _GNU_SOURCE, which the Glibc module is not
    // built with: they are looked up once by name instead (nil where libc lacks them).
    private typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutablePointer<cpu_set_t>) -> Int32
    private typealias SetAffinity = @convention(c) (pthread_t, Int, UnsafePointer<cpu_set_t>) -> Int32
    private static let getAffinity = dlsym(nil, "sched_getaffinity").map { unsafeBitCast($0, to: GetAffinity.self) }
    private static let setAffinity = dlsym(nil, "pthread_setaffinity_np").map { unsafeBitCast($0, to: SetAffinity.self) }

    private var set = cpu_set_t()

    /// The cores the calling thread may run on.
    static func current() -> CoreSet {
        var result = CoreSet()
        guard let getAffinity, getAffinity(0, MemoryLayout<cpu_set_t>.size, &result.set) == 0 else {
            // Unknown: every online core.
            var all = CoreSet()
            let online = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            withUnsafeMutableBytes(of: &all.set) { bytes in
                for core in 0..<min(online, bytes.count * 8) { bytes[core / 8] |= UInt8(1 << (core % 8)) }
            }
            return all
        }
        return result
    }

    /// The cores this process may run on, read once (the calling thread's set before any pinning).
    static func allowed() -> CoreSet { processCores }

    private static let processCores = current()

    /// The core numbers in the set, ascending.
    var cores: [Int32] {
        withUnsafeBytes(of: set) { bytes in
            var result: [Int32] = []
            for (offset, byte) in bytes.enumerated() where byte != 0 {
                for bit in 0..<8 where byte & (1 << bit) != 0 { result.append(Int32(offset * 8 + bit)) }
            }
            return result
        }
    }

    /// Applies this set to the calling thread (best effort: a refusal leaves it unpinned).
    func applyToCallingThread() {
        var set = self.set
        _ = CoreSet.setAffinity?(pthread_self(), MemoryLayout<cpu_set_t>.size, &set)
    }

    /// Pins the calling thread to `core`.
    static func pinCallingThread(to core: Int32) {
        var one = CoreSet()
        withUnsafeMutableBytes(of: &one.set) { bytes in
            let index = Int(core) / 8
            if index < bytes.count { bytes[index] |= UInt8(1 << (Int(core) % 8)) }
        }
        one.applyToCallingThread()
    }
}
