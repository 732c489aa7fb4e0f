/// How a queue orders its items: first-in first-out, last-in first-out, or by priority.
/// Subclassed rather than switched on, so `Queue`'s logic exists once.
/// (`@usableFromInline` only because ``FIFOStorage``, which inlinable code uses, derives from it.)
@usableFromInline
class QueueStorage<Element> {
    var count: Int { fatalError("abstract") }
    func push(_ element: Element) { fatalError("abstract") }
    func pop() -> Element { fatalError("abstract") }
    func peek() -> Element? { fatalError("abstract") }
    func removeAll() -> Int { fatalError("abstract") }
}

/// A growable ring buffer: O(1) push and pop, storage reused once warm. Manually managed
/// memory of `Element` (not `[Element?]`), so unspecialised generic code needs no
/// metadata for derived types on every operation.
///
/// Push and pop are inlinable so that `Queue`'s fast paths, inlined into the caller,
/// specialise them too: for `Queue<Int>` they become a few loads and stores. Only the
/// rare `grow()` stays out of line.
@usableFromInline
final class FIFOStorage<Element>: QueueStorage<Element> {
    @usableFromInline @exclusivity(unchecked) var slots: UnsafeMutablePointer<Element>?
    @usableFromInline @exclusivity(unchecked) var capacity = 0
    @usableFromInline @exclusivity(unchecked) var head = 0
    @usableFromInline @exclusivity(unchecked) var stored = 0

    deinit {
        _ = removeAll()
        slots?.deallocate()
    }

    @inlinable
    override var count: Int { stored }

    @inlinable
    override func push(_ element: Element) {
        if stored == capacity { grow() }
        pushIntoRoom(element)
    }

    /// Whether `pushIntoRoom` may be called: the ring has a free slot.
    @inlinable
    var hasRoom: Bool { stored < capacity }

    /// `push` without growing; the caller checked ``hasRoom``. What `Queue`'s inlined fast
    /// path uses: with no out-of-line call in it, the caller needs no retain of the ring.
    @inlinable
    func pushIntoRoom(_ element: Element) {
        var index = head &+ stored
        if index >= capacity { index &-= capacity }
        (slots.unsafelyUnwrapped + index).initialize(to: element)
        stored &+= 1
    }

    /// Removes the oldest item; the caller checks `stored > 0`.
    @inlinable
    override func pop() -> Element {
        let element = (slots.unsafelyUnwrapped + head).move()
        head &+= 1
        if head == capacity { head = 0 }
        stored &-= 1
        return element
    }

    override func peek() -> Element? { stored == 0 ? nil : slots.unsafelyUnwrapped[head] }

    override func removeAll() -> Int {
        let removed = stored
        while stored > 0 { _ = pop() }
        head = 0
        return removed
    }

    /// Doubles the capacity (at least 16), moving the items to the front. Out of line:
    /// it runs only until the buffer is warm.
    @usableFromInline
    func grow() {
        let newCapacity = max(16, capacity * 2)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        for index in 0..<stored {
            var from = head + index
            if from >= capacity { from -= capacity }
            (grown + index).moveInitialize(from: slots.unsafelyUnwrapped + from, count: 1)
        }
        slots?.deallocate()
        slots = grown
        capacity = newCapacity
        head = 0
    }
}

final class LIFOStorage<Element>: QueueStorage<Element> {
    private var items: [Element] = []
    override var count: Int { items.count }
    override func push(_ element: Element) { items.append(element) }
    override func pop() -> Element { items.removeLast() }
    override func peek() -> Element? { items.last }
    override func removeAll() -> Int {
        let removed = items.count
        items.removeAll()
        return removed
    }
}

/// A binary min-heap; equal items come out in insertion order.
final class HeapStorage<Element>: QueueStorage<Element> {
    private var items: [(element: Element, sequence: UInt64)] = []
    private var sequence: UInt64 = 0
    private let areInIncreasingOrder: (Element, Element) -> Bool

    init(by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.areInIncreasingOrder = areInIncreasingOrder
    }

    override var count: Int { items.count }

    private func before(_ a: Int, _ b: Int) -> Bool {
        if areInIncreasingOrder(items[a].element, items[b].element) { return true }
        if areInIncreasingOrder(items[b].element, items[a].element) { return false }
        return items[a].sequence < items[b].sequence
    }

    override func push(_ element: Element) {
        sequence += 1
        items.append((element, sequence))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(child, parent) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    override func pop() -> Element {
        items.swapAt(0, items.count - 1)
        let top = items.removeLast().element
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < items.count else { break }
            var smallest = left
            if left + 1 < items.count, before(left + 1, left) { smallest = left + 1 }
            guard before(smallest, parent) else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }

    override func peek() -> Element? { items.first?.element }

    override func removeAll() -> Int {
        let removed = items.count
        items.removeAll()
        return removed
    }
}
