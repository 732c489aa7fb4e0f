// traffic-light: the classic Event exercise (红绿灯). A light coroutine turns green
// and red on a timer; car coroutines wait on the Event and pass only on green.
// Run: swift run -c release traffic-light [cars] [phase-ms]
import ArgumentParser
import SampleSupport
import Weave

struct TrafficLightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traffic-light",
        abstract: "A light coroutine turns green and red on a timer; car coroutines wait on an Event.")

    @Argument(help: "Cars arriving at the light.")
    var cars = 8

    @Argument(help: "How long each of green and red lasts, in milliseconds.")
    var phaseMs = 300

    func validate() throws {
        try require("<cars>", cars, atLeast: 0)
        try require("<phase-ms>", phaseMs, atLeast: 1)
    }

    func run() throws {
        try Hub.run { try drive(carCount: cars, phase: .milliseconds(phaseMs)) }
    }
}

let start = ContinuousClock.now
func log(_ who: String, _ what: String) {
    let elapsed = ContinuousClock.now - start
    let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    let stamp = "\(milliseconds)"
    print("\(String(repeating: " ", count: max(0, 6 - stamp.count)))\(stamp) ms  \(who.padding(7))  \(what)")
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

/// Runs the light until `carCount` cars have passed.
func drive(carCount: Int, phase: Duration) throws {
    let green = Event(label: "green light")
    print("   time    who      what")
    let light = try spawn(name: "light") {
        while true {
            green.set()
            log("light", "GREEN  (cars may pass)")
            try Coroutine.sleep(for: phase)
            green.clear()
            log("light", "RED    (cars wait)")
            try Coroutine.sleep(for: phase)
        }
    }
    let cars = try (0..<carCount).map { index in
        try spawn(name: "car-\(index)") {
            // Cars arrive at staggered times, some during red.
            try Coroutine.sleep(for: phase * (Double(index) * 0.45))
            let name = "car-\(index)"
            if green.isSet {
                log(name, "arrives on green, passes")
            } else {
                log(name, "arrives on red, waits")
                try green.wait()
                log(name, "light turned green, passes")
            }
        }
    }
    try joinAll(cars)
    light.cancel()
    log("road", "all \(carCount) cars passed; the light is switched off")
}

TrafficLightCommand.main()
