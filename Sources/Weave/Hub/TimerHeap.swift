/// A binary min-heap of deadlines. A hub keeps one and arms a single `uv_timer_t` for its
/// earliest entry, instead of a libuv handle (and a close) per sleep.
struct TimerHeap {
    private var nodes: [TimerNode] = []

    var isEmpty: Bool { nodes.isEmpty }
    var count: Int { nodes.count }
    var first: TimerNode? { nodes.first }

    mutating func insert(_ node: TimerNode) {
        node.index = nodes.count
        nodes.append(node)
        siftUp(node.index)
    }

    /// Removes `node` if it is still scheduled.
    mutating func remove(_ node: TimerNode) {
        let index = node.index
        guard index >= 0, index < nodes.count, nodes[index] === node else { return }
        let last = nodes.removeLast()
        node.index = -1
        if index < nodes.count {
            nodes[index] = last
            last.index = index
            siftDown(index)
            siftUp(last.index)
        }
    }

    mutating func popFirst() -> TimerNode? {
        guard let first = nodes.first else { return nil }
        remove(first)
        return first
    }

    /// Removes every node (at hub shutdown).
    mutating func removeAll() -> [TimerNode] {
        let all = nodes
        for node in all { node.index = -1 }
        nodes.removeAll()
        return all
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard nodes[child].fires(before: nodes[parent]) else { break }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < nodes.count else { break }
            var smallest = left
            let right = left + 1
            if right < nodes.count, nodes[right].fires(before: nodes[left]) { smallest = right }
            guard nodes[smallest].fires(before: nodes[parent]) else { break }
            swapAt(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        nodes.swapAt(a, b)
        nodes[a].index = a
        nodes[b].index = b
    }
}
