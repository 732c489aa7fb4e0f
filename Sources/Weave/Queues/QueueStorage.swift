/// How a queue orders its items: first-in first-out, last-in first-out, or by priority.
/// Subclassed rather than switched on, so `Queue`'s logic exists once.
class QueueStorage<Element> {
    var count: Int { fatalError("abstract") }
    func push(_ element: Element) { fatalError("abstract") }
    func pop() -> Element { fatalError("abstract") }
    func peek() -> Element? { fatalError("abstract") }
    func removeAll() -> Int { fatalError("abstract") }
}

/// A growable ring buffer: O(1) push and pop, storage reused once warm.
final class FIFOStorage<Element>: QueueStorage<Element> {
    private var slots: [Element?] = []
    private var head = 0
    private var stored = 0

    override var count: Int { stored }

    override func push(_ element: Element) {
        if stored == slots.count { grow() }
        slots[(head + stored) % slots.count] = element
        stored += 1
    }

    override func pop() -> Element {
        let element = slots[head].unsafelyUnwrapped
        slots[head] = nil
        head = (head + 1) % slots.count
        stored -= 1
        return element
    }

    override func peek() -> Element? { stored == 0 ? nil : slots[head] }

    override func removeAll() -> Int {
        let removed = stored
        slots = []
        head = 0
        stored = 0
        return removed
    }

    private func grow() {
        var grown = [Element?](repeating: nil, count: max(16, slots.count * 2))
        for index in 0..<stored { grown[index] = slots[(head + index) % slots.count] }
        slots = grown
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
