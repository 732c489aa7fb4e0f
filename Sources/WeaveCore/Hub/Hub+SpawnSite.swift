import CWeaveContext

extension Hub {
    /// Whether spawns copy their site into the fiber's C fields, for a reader that must not
    /// touch the Swift coroutine object (the blocked-loop watchdog, on its own thread).
    /// Off unless a layer that needs it turns it on when the hub starts.
    package var copiesSpawnSites: Bool {
        get { sched.pointee.copies_spawn_sites != 0 }
        set { sched.pointee.copies_spawn_sites = newValue ? 1 : 0 }
    }

    /// Keeps a C copy of the spawn site (see ``copiesSpawnSites``).
    func copySpawnSite(_ site: SourceLocation, into fiber: UnsafeMutablePointer<weave_fiber>) {
        // 0 means "no site" to the C side; the main coroutine's pseudo-site has line 0.
        fiber.pointee.site_line = UInt32(clamping: max(site.line, 1))
        withUnsafeMutableBytes(of: &fiber.pointee.site) { buffer in
            site.file.withUTF8Buffer { utf8 in
                let count = min(utf8.count, buffer.count - 1)
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[..<count]))
                buffer[count] = 0
            }
        }
    }
}
