// weave-spawn-burst: how long starting processes holds the hub. A coroutine ticks every
// 10 ms while N coroutines each run `Subprocess.run("true")` at once; prints the ticker's
// worst gap (time between two consecutive ticks; 10 ms when nothing blocks the hub) and the
// burst's wall time, one JSON line per round.
//
//   weave-spawn-burst [N=200] [ROUNDS=5]
//
// Build: `cd Benchmarks && swift build -c release --product weave-spawn-burst`.
import Glibc
import Weave

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 200 : 200
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) * 1e-15
}

func fixed(_ value: Double) -> String {
    let scaled = Int((value * 100).rounded())
    let fraction = String(abs(scaled) % 100)
    return "\(scaled / 100).\(String(repeating: "0", count: 2 - fraction.count))\(fraction)"
}

var worstOverall = 0.0
try Weave.run {
    for round in 1...rounds {
        var ticking = true
        var worstGap = Duration.zero
        var ticks = 0
        let ticker = try spawn {
            var last = ContinuousClock.now
            while ticking {
                try AnyCoroutine.sleep(for: .milliseconds(10))
                let now = ContinuousClock.now
                worstGap = max(worstGap, now - last)
                last = now
                ticks += 1
            }
        }
        try AnyCoroutine.sleep(for: .milliseconds(50))  // the ticker is in its rhythm
        let started = ContinuousClock.now
        var failures = 0
        let runs = try (0..<count).map { _ in
            try spawn { try Subprocess.run("true", timeout: .seconds(60)).isSuccess }
        }
        for run in runs where !(try run.join()) { failures += 1 }
        let wall = ContinuousClock.now - started
        try AnyCoroutine.sleep(for: .milliseconds(30))
        ticking = false
        try ticker.join()
        worstOverall = max(worstOverall, milliseconds(worstGap))
        print("{\"case\": \"spawn-burst\", \"round\": \(round), \"processes\": \(count), \"failures\": \(failures), \"worst_tick_gap_ms\": \(fixed(milliseconds(worstGap))), \"burst_ms\": \(fixed(milliseconds(wall))), \"ticks\": \(ticks)}")
    }
}
print("{\"case\": \"spawn-burst-summary\", \"processes\": \(count), \"rounds\": \(rounds), \"worst_tick_gap_ms\": \(fixed(worstOverall))}")
