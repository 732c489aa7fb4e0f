// weave-spawn-burst: how long starting processes holds the hub. A coroutine ticks every
// 10 ms while N coroutines each run `Command.run("true")` at once; prints the ticker's
// worst gap (time between two consecutive ticks; 10 ms when nothing blocks the hub) and the
// burst's wall time, one JSON line per round, with the hub thread's CPU time and context
// switches during the worst gap (little CPU and many preemptions: the hub was runnable but
// the machine was busy; long CPU time: the hub itself was held).
//
//   weave-spawn-burst [N=200] [ROUNDS=5] [processes|control|warm|pool] [HEAP_MIB=0]
//
// `control` runs the same burst of coroutines without starting processes (each waits
// 1 ms instead): what the burst costs the hub on its own, for comparison. `pool` maps N
// trivial tasks over `ProcessPool(workers: 2, maxTasksPerWorker: 1)`: every task retires its
// worker, and the pool starts each replacement from a libuv callback (this program is its
// own worker). `warm` runs 2N idle coroutines first, unreported, so that round 1 finds its
// stacks pooled. HEAP_MIB touches that much memory first: what `fork` would copy the page
// tables of (a large service), where a `CLONE_VM` spawn copies none.
//
// Before/after: build this file against e7f90b4 and against this branch, run both back to
// back: `weave-spawn-burst 200 5` (issue 12, item 15: worst gap under 20 ms).
//
// Build: `cd Benchmarks && swift build -c release --product weave-spawn-burst`.
import Glibc
import Weave

struct Nothing: ProcessTask {
    func run() throws -> Int { 0 }
}

ProcessWorker.main(tasks: [Nothing.self])

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 200 : 200
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let control = arguments.count > 3 && arguments[3] == "control"
/// `warm`: one unreported round of coroutines first, so that round 1 finds pooled stacks.
let warm = arguments.count > 3 && arguments[3] == "warm"
let poolMode = arguments.count > 3 && arguments[3] == "pool"
let heapMiB = arguments.count > 4 ? Int(arguments[4]) ?? 0 : 0
// Touched, one byte a page, and kept for the whole run.
let heap = UnsafeMutableRawPointer.allocate(byteCount: max(1, heapMiB) << 20, alignment: 4096)
for offset in stride(from: 0, to: heapMiB << 20, by: 4096) { heap.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) * 1e-15
}

func fixed(_ value: Double) -> String {
    let scaled = Int((value * 100).rounded())
    let fraction = String(abs(scaled) % 100)
    return "\(scaled / 100).\(String(repeating: "0", count: 2 - fraction.count))\(fraction)"
}

/// This thread's CPU time in milliseconds: whether a long gap was the hub's own work.
func threadCPU() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
}

/// This thread's context switches so far: voluntary (it blocked) and involuntary (it was
/// preempted while runnable: a loaded machine, not a blocked hub).
func contextSwitches() -> (voluntary: Int, involuntary: Int) {
    var usage = rusage()
    getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD
    return (usage.ru_nvcsw, usage.ru_nivcsw)
}

func faults() -> (minor: Int, major: Int) {
    var usage = rusage()
    getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD
    return (usage.ru_minflt, usage.ru_majflt)
}

var worstOverall = 0.0
try Hub.run {
    if warm {
        let sleepers = try (0..<(2 * count)).map { _ in try spawn { try Coroutine.sleep(for: .milliseconds(1)) } }
        for sleeper in sleepers { try sleeper.join() }
    }
    for round in 1...rounds {
        var ticking = true
        var worstGap = Duration.zero
        var ticks = 0
        var worstCPU = 0.0
        var worstSwitches = (voluntary: 0, involuntary: 0)
        var worstFaults = (minor: 0, major: 0)
        let ticker = try spawn {
            var last = ContinuousClock.now
            var lastCPU = threadCPU()
            var lastSwitches = contextSwitches()
            var lastFaults = faults()
            while ticking {
                try Coroutine.sleep(for: .milliseconds(10))
                let now = ContinuousClock.now
                if now - last > worstGap {
                    worstCPU = threadCPU() - lastCPU
                    let switches = contextSwitches()
                    worstSwitches = (switches.voluntary - lastSwitches.voluntary, switches.involuntary - lastSwitches.involuntary)
                    let now = faults()
                    worstFaults = (now.minor - lastFaults.minor, now.major - lastFaults.major)
                }
                lastCPU = threadCPU()
                lastSwitches = contextSwitches()
                lastFaults = faults()
                worstGap = max(worstGap, now - last)
                last = now
                ticks += 1
            }
        }
        try Coroutine.sleep(for: .milliseconds(50))  // the ticker is in its rhythm
        let started = ContinuousClock.now
        var failures = 0
        if poolMode {
            let pool = try ProcessPool(configuration: .init(workers: 2, maxTasksPerWorker: 1))
            let outputs = try pool.map((0..<count).map { _ in Nothing() })
            failures = outputs.count == count ? 0 : count - outputs.count
            pool.close()
            try pool.join(timeout: .seconds(60))
        }
        let runs = try (0..<(poolMode ? 0 : count)).map { _ in
            try spawn {
                if control {
                    // The same shape as `run`: a second coroutine per child, a short wait.
                    let reader = try spawn { try Coroutine.sleep(for: .milliseconds(1)) }
                    try Coroutine.sleep(for: .milliseconds(1))
                    try reader.join()
                    return true
                }
                return try Command.run("true", timeout: .seconds(60)).isSuccess
            }
        }
        for run in runs where !(try run.join()) { failures += 1 }
        let wall = ContinuousClock.now - started
        try Coroutine.sleep(for: .milliseconds(30))
        ticking = false
        try ticker.join()
        worstOverall = max(worstOverall, milliseconds(worstGap))
        print("{\"case\": \"\(control ? "control-burst" : poolMode ? "pool-recycling" : "spawn-burst")\", \"round\": \(round), \"processes\": \(count), \"failures\": \(failures), \"worst_tick_gap_ms\": \(fixed(milliseconds(worstGap))), \"hub_cpu_in_worst_gap_ms\": \(fixed(worstCPU)), \"hub_switches_in_worst_gap\": \"\(worstSwitches.voluntary) voluntary, \(worstSwitches.involuntary) preempted, \(worstFaults.minor) minor + \(worstFaults.major) major faults\", \"burst_ms\": \(fixed(milliseconds(wall))), \"ticks\": \(ticks)}")
    }
}
print("{\"case\": \"spawn-burst-summary\", \"processes\": \(count), \"rounds\": \(rounds), \"worst_tick_gap_ms\": \(fixed(worstOverall))}")
