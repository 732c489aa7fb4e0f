// swift-tools-version:6.1
// Weave's benchmarks: a separate package so that the library itself never depends on the
// benchmark harness. Build from this folder: `swift build -c release`.
import PackageDescription

let package = Package(
    name: "WeaveBenchmarks",
    dependencies: [
        .package(name: "Weave", path: ".."),
        // The mirror also has it as ordo-one/benchmark (same code, identity "benchmark").
        // Only the MallocInterposer trait: the default traits pull in a runtime interposer
        // that is not mirrored here.
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // package-benchmark suite: `swift package benchmark` (see README.md).
        .executableTarget(
            name: "WeaveBenchmarks",
            dependencies: [
                .product(name: "Weave", package: "Weave"),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/WeaveBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // One JSON line per case, beside the peers' micro binaries (compare-micro.sh).
        // Depends on Weave only, so `swift build --product weave-micro` stays small.
        .executableTarget(
            name: "weave-micro",
            dependencies: [.product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveMicro"
        ),
        // Timer lateness and wake rate beside Go (compare-timers.sh, Peers/go-timers).
        .executableTarget(
            name: "weave-timers",
            dependencies: [.product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveTimers"
        ),
        // ProcessPool beside multiprocessing.Pool (compare-procpool.sh); its own worker program.
        .executableTarget(
            name: "weave-procpool",
            dependencies: [.product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveProcPool"
        ),
    ]
)
