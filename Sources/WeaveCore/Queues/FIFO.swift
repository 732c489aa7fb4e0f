/// A first-in first-out array with O(1) pops from the front: a head index into the array,
/// compacted once the consumed prefix is the larger half (no ring arithmetic, and the
/// elements stay contiguous for the rare removal from the middle).
package struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    package init() {}

    package var count: Int { items.count - head }
    package var isEmpty: Bool { head == items.count }
    package var first: Element? { head < items.count ? items[head] : nil }

    package mutating func append(_ element: Element) { items.append(element) }

    /// Puts `elements` back in front, in their order (work taken back from a dead worker).
    package mutating func prepend(contentsOf elements: [Element]) {
        guard !elements.isEmpty else { return }
        items.replaceSubrange(head..<head, with: elements)
    }

    package mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes the first element that matches; returns whether there was one.
    package mutating func removeFirst(where matches: (Element) -> Bool) -> Bool {
        guard let index = items[head...].firstIndex(where: matches) else { return false }
        items.remove(at: index)
        return true
    }

    /// Empties the queue, returning what it held in order.
    package mutating func drain() -> [Element] {
        let rest = Array(items[head...])
        items.removeAll()
        head = 0
        return rest
    }
}
