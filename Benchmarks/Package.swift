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
        // Helpers the benchmark programs share (clock, JSON lines, fixed-point text).
        .target(name: "BenchSupport", path: "Sources/BenchSupport"),
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
            dependencies: ["BenchSupport", .product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveMicro"
        ),
        // Issue 12's trap cost, thread pool queue and imap checks (weave-sync-micro --help).
        .executableTarget(
            name: "weave-sync-micro",
            dependencies: ["BenchSupport", .product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveSyncMicro"
        ),
        // Timer lateness and wake rate beside Go (compare-timers.sh, Peers/go-timers).
        .executableTarget(
            name: "weave-timers",
            dependencies: ["BenchSupport", .product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveTimers"
        ),
        // ProcessPool beside multiprocessing.Pool (compare-procpool.sh); its own worker program.
        .executableTarget(
            name: "weave-procpool",
            dependencies: ["BenchSupport", .product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveProcPool"
        ),
        // Listener accept bursts (connects, 5,000-client echo) with the kernel's ListenOverflows.
        .executableTarget(
            name: "weave-accept-burst",
            dependencies: ["BenchSupport", .product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveAcceptBurst"
        ),
        // CoroutineHandle.cancel() with many coroutines alive.
        .executableTarget(
            name: "weave-cancel-lookup",
            dependencies: ["BenchSupport", .product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveCancelLookup"
        ),
        // Redis GET/SET from many coroutines beside redis-benchmark (compare-redis.sh).
        .executableTarget(
            name: "weave-redis",
            dependencies: [
                .product(name: "Weave", package: "Weave"),
                .product(name: "WeaveRedis", package: "Weave"),
            ],
            path: "Sources/WeaveRedisBench"
        ),
        // MySQL point selects from many coroutines beside mysqlslap (compare-mysql.sh).
        .executableTarget(
            name: "weave-mysql",
            dependencies: [.product(name: "WeaveMySQL", package: "Weave")],
            path: "Sources/WeaveMySQLBench"
        ),
        // CrossHubChannel messages/s between two hubs beside Go (compare-crosshub.sh, Peers/go-crosshub).
        .executableTarget(
            name: "weave-crosshub",
            dependencies: [.product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveCrossHub"
        ),
        // The hub's stall while a burst of processes starts (issue 12, item 15).
        .executableTarget(
            name: "weave-spawn-burst",
            dependencies: [.product(name: "Weave", package: "Weave")],
            path: "Sources/WeaveSpawnBurst"
        ),
    ]
)

// WeaveMemcached beside memaslap and pymemcache under gevent (compare-memcached.sh).
package.targets += [
    .executableTarget(
        name: "weave-memcached",
        dependencies: [.product(name: "WeaveMemcached", package: "Weave")],
        path: "Sources/WeaveMemcachedBench"
    ),
]

// WeaveAMQP publish-with-confirms and consume rates beside pika (compare-amqp.sh).
package.targets += [
    .executableTarget(
        name: "weave-amqp",
        dependencies: [.product(name: "WeaveAMQP", package: "Weave"), .product(name: "Weave", package: "Weave")],
        path: "Sources/WeaveAMQPBench"
    ),
]

// DistributedPool tasks/s and round-trip latency beside Celery on the same RabbitMQ (compare-distributed.sh).
package.targets += [
    .executableTarget(
        name: "weave-distributed",
        dependencies: ["BenchSupport", .product(name: "WeaveDistributed", package: "Weave"), .product(name: "Weave", package: "Weave")],
        path: "Sources/WeaveDistributedBench"
    ),
]
