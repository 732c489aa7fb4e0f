/// The keyed containers one binary writer or reader has made, one per key type and depth,
/// handed out again for every value after the first (``BinaryWriter/keyedContainer(_:depth:)``,
/// ``BinaryReader/keyedContainer(_:at:depth:)``).
///
/// What it saves a value: making a container costs an allocation (its box) and a runtime
/// metadata lookup; handing out a cached one with code generic over the key type would
/// still cost a lookup of `KeyedEncodingContainer<Key>` (a resilient type, so copying one
/// in unspecialized code needs its metadata: some 330 instructions), and looking it up
/// through an array of class references retains and releases each one it passes. So the
/// slots are found in a table of plain values and copied out by ``CachedKeyedContainer``,
/// which already holds the container type's metadata.
///
/// Not `Sendable`: used by its owner only. The slots refer back to their coder, so the
/// owner calls ``removeAll()`` to end the cycle.
struct KeyedContainerCache {
    private struct Entry {
        let keyType: ObjectIdentifier
        let depth: Int
        /// Retained by the cache (released in ``removeAll()``).
        let slot: Unmanaged<KeyedContainerSlot>
    }

    private var entries: [Entry] = []

    init() {}

    /// The slot of `keyType` at `depth`, not retained: valid until ``removeAll()``.
    @inline(__always) func slot(_ keyType: ObjectIdentifier, depth: Int) -> Unmanaged<KeyedContainerSlot>? {
        var index = 0
        while index < entries.count {
            let entry = entries[index]
            if entry.keyType == keyType && entry.depth == depth { return entry.slot }
            index += 1
        }
        return nil
    }

    /// Adds `slot` for `keyType` at `depth` (which has none yet).
    mutating func insert(_ slot: KeyedContainerSlot, keyType: ObjectIdentifier, depth: Int) {
        entries.append(Entry(keyType: keyType, depth: depth, slot: .passRetained(slot)))
    }

    /// Releases every slot.
    mutating func removeAll() {
        for entry in entries { entry.slot.release() }
        entries = []
    }
}

/// A cached keyed container, seen without its type; ``CachedKeyedContainer`` holds it.
class KeyedContainerSlot {
    /// The entries of a decoding container, reloaded for each value; nil when encoding.
    let state: KeyedDecodingState?

    init(state: KeyedDecodingState?) { self.state = state }

    /// Reloads a decoding container's entries from the map at `position`.
    @inline(__always) final func load(at position: Int) throws {
        // This slot holds the state for the whole call: no retain.
        try Unmanaged.passUnretained(state.unsafelyUnwrapped)._withUnsafeGuaranteedRef { try $0.load(at: position) }
    }
}

/// A keyed container (`KeyedEncodingContainer<Key>` or `KeyedDecodingContainer<Key>`) and a
/// way to copy it out that needs no runtime lookup.
final class CachedKeyedContainer<Container>: KeyedContainerSlot {
    private let container: Container

    init(_ container: Container, state: KeyedDecodingState?) {
        self.container = container
        super.init(state: state)
    }

    /// A copy of the container. Generic over the container's own type, whose metadata this
    /// object's class keeps (given once, when the container was cached), so the copy asks
    /// the runtime for nothing; never specialized or inlined into code generic over the key
    /// type, which would look `Container` up again for each call. No layout is assumed.
    @inline(never) @_semantics("optimize.sil.specialize.generic.never")
    func copy() -> Container { container }
}
