// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Weave",
    products: [
        // Everything: `import Weave` re-exports every layer.
        .library(name: "Weave", targets: ["Weave"]),
        // Only the hub, stacks, sync primitives, queues and pools.
        .library(name: "WeaveCore", targets: ["WeaveCore"]),
        .executable(name: "tour", targets: ["Tour"]),
        .executable(name: "producer-consumer", targets: ["ProducerConsumer"]),
        .executable(name: "traffic-light", targets: ["TrafficLight"]),
        .executable(name: "echo-server", targets: ["EchoServer"]),
        .executable(name: "http-server", targets: ["HTTPServer"]),
        .executable(name: "prime-pool", targets: ["PrimePool"]),
        .executable(name: "select-server", targets: ["SelectServer"]),
        .executable(name: "chat-server", targets: ["ChatServer"]),
        .executable(name: "crawler", targets: ["Crawler"]),
        .executable(name: "process-info", targets: ["ProcessInfoSample"]),
        .executable(name: "pipe-demo", targets: ["PipeDemo"]),
        .executable(name: "queue-demo", targets: ["QueueDemo"]),
        .executable(name: "manager-demo", targets: ["ManagerDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-service-context.git", from: "1.5.1"),
        // The samples' command lines only; no library target depends on it.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // libuv from the system (Debian: libuv1-dev, 1.44).
        .systemLibrary(
            name: "CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        // Hand-written context switch (x86_64 SysV, AArch64) and the scheduler's hot path.
        .target(name: "CWeaveContext"),
        // The process layer's C: fork-free child spawning and the prctl shim.
        .target(name: "CWeaveProcess"),
        // The layers, each a module, so that a lower one cannot reach a higher one: what crosses
        // them is `package`. Core: stacks, hub, sync primitives, queues, pools.
        .target(
            name: "WeaveCore",
            dependencies: [
                "CLibUV",
                "CWeaveContext",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Sockets, files, signals, the thread pool.
        .target(name: "WeaveIO", dependencies: ["WeaveCore", "CLibUV", .product(name: "Logging", package: "swift-log")]),
        // Child processes, process pools and the objects they share.
        .target(name: "WeaveProcess", dependencies: ["WeaveCore", "WeaveIO", "CLibUV", "CWeaveContext", "CWeaveProcess"]),
        // Dumps, the blocked-loop watchdog and the SIGUSR1 dump; installs itself into every hub
        // (see CWeaveDiagnosticsInstall).
        .target(
            name: "WeaveDiagnostics",
            dependencies: ["WeaveCore", "CWeaveDiagnosticsInstall", "CLibUV", "CWeaveContext",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Runs WeaveDiagnostics' installer when the image that links it loads, before main.
        .target(name: "CWeaveDiagnosticsInstall"),
        // Hubs on their own threads, and the ways between coroutines and Swift concurrency.
        .target(
            name: "WeaveBridges",
            dependencies: ["WeaveCore", "WeaveDiagnostics", "CWeaveContext", "CLibUV",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceContextModule", package: "swift-service-context")]
        ),
        // The umbrella: `import Weave` gives every layer.
        .target(
            name: "Weave",
            dependencies: ["WeaveCore", "WeaveIO", "WeaveProcess", "WeaveDiagnostics", "WeaveBridges"]
        ),
        .executableTarget(name: "Tour", dependencies: ["Weave"], path: "Samples/Tour"),
        .executableTarget(name: "ProducerConsumer", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/ProducerConsumer"),
        .executableTarget(name: "TrafficLight", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/TrafficLight"),
        .target(name: "SampleSupport", dependencies: ["Weave", argumentParser], path: "Samples/SampleSupport"),
        .executableTarget(name: "EchoServer", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/EchoServer"),
        .executableTarget(name: "HTTPServer", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/HTTPServer"),
        .executableTarget(name: "SelectServer", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/SelectServer"),
        .executableTarget(name: "ChatServer", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/ChatServer"),
        .executableTarget(name: "Crawler", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/Crawler"),
        .executableTarget(name: "PrimePool", dependencies: ["Weave", "SampleSupport", argumentParser], path: "Samples/PrimePool", exclude: ["cross-host.sh"]),
        // Not "ProcessInfo": a module of that name would shadow Foundation's type for its users.
        .executableTarget(name: "ProcessInfoSample", dependencies: ["Weave"], path: "Samples/ProcessInfo"),
        .executableTarget(name: "PipeDemo", dependencies: ["Weave"], path: "Samples/PipeDemo"),
        .executableTarget(name: "QueueDemo", dependencies: ["Weave"], path: "Samples/QueueDemo"),
        .executableTarget(name: "ManagerDemo", dependencies: ["Weave"], path: "Samples/ManagerDemo"),
        // Task types shared by the tests and the worker program their process pools run.
        .target(name: "TestTasks", dependencies: ["Weave"], path: "Tests/TestTasks"),
        .executableTarget(name: "WeaveTestWorker", dependencies: ["Weave", "TestTasks"], path: "Tests/WeaveTestWorker"),
        // `@testable import`s the layer it tests (WeaveCore, WeaveIO, ...) beside `import Weave`;
        // the sample executables SampleArgumentTests runs are built with the tests.
        .testTarget(
            name: "WeaveTests",
            dependencies: [
                "Weave", "WeaveCore", "WeaveIO", "WeaveProcess", "WeaveDiagnostics", "WeaveBridges",
                "TestTasks", "WeaveTestWorker", "WeaveTestSupport", "EchoServer", "PrimePool", "Crawler", "HTTPServer",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
    ]
)

// MARK: - Integrations
// Optional targets, each its own product, so that the core never depends on these packages:
// WeaveServiceLifecycle runs a hub as a swift-service-lifecycle `Service`; WeaveMetrics
// reports hub and process-pool figures through swift-metrics.
package.dependencies += [
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
]
package.products += [
    .library(name: "WeaveServiceLifecycle", targets: ["WeaveServiceLifecycle"]),
    .library(name: "WeaveMetrics", targets: ["WeaveMetrics"]),
]
package.targets += [
    .target(name: "WeaveServiceLifecycle", dependencies: [
        "Weave", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    ]),
    .target(name: "WeaveMetrics", dependencies: [
        "Weave", .product(name: "Metrics", package: "swift-metrics"),
    ]),
    .testTarget(name: "WeaveServiceLifecycleTests", dependencies: [
        "WeaveServiceLifecycle", "WeaveTestSupport", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    ]),
    .testTarget(name: "WeaveMetricsTests", dependencies: [
        "WeaveMetrics", "TestTasks", "WeaveTestWorker",
        .product(name: "MetricsTestKit", package: "swift-metrics"),
    ]),
]

/// The samples' option parser (sample targets only).
var argumentParser: Target.Dependency { .product(name: "ArgumentParser", package: "swift-argument-parser") }

// MARK: - Clients
// What the clients' test targets share (running a hub from a test).
package.targets += [
    .target(name: "WeaveTestSupport", dependencies: ["Weave"], path: "Tests/WeaveTestSupport"),
]
// Cooperative clients for servers, each its own product so that the core never depends on
// them. WeaveRedis: RESP2/RESP3 with automatic pipelining, pools and pub/sub; its tests
// start their own redis-server (Debian: redis-server).
package.products += [
    .library(name: "WeaveRedis", targets: ["WeaveRedis"]),
]
package.targets += [
    .target(name: "WeaveRedis", dependencies: ["Weave", "WeaveTLS"]),
    .testTarget(name: "WeaveRedisTests", dependencies: ["WeaveRedis", "Weave", "WeaveTLS", "WeaveTestSupport"]),
]
// The redis-demo sample: the course's Redis lesson against a running server.
package.products += [
    .executable(name: "redis-demo", targets: ["RedisDemo"]),
]
package.targets += [
    .executableTarget(name: "RedisDemo", dependencies: ["WeaveRedis", "SampleSupport", argumentParser],
                      path: "Samples/RedisDemo"),
]

// MARK: - memcached
// The memcached client (meta text protocol, a pool per server, consistent hashing), its
// tests against real memcached servers they start themselves (Debian: memcached), and the
// memcached-demo sample.
package.products += [
    .library(name: "WeaveMemcached", targets: ["WeaveMemcached"]),
    .executable(name: "memcached-demo", targets: ["MemcachedDemo"]),
]
package.targets += [
    .target(name: "WeaveMemcached", dependencies: ["Weave", "WeaveTLS"]),
    .executableTarget(name: "MemcachedDemo", dependencies: ["WeaveMemcached", "SampleSupport", argumentParser],
                      path: "Samples/MemcachedDemo"),
    .testTarget(name: "WeaveMemcachedTests", dependencies: ["WeaveMemcached", "WeaveTLS", "WeaveTestSupport"]),
]

// MARK: - MySQL / MariaDB
// WeaveMySQL: a cooperative MySQL/MariaDB client over MariaDB Connector/C's non-blocking API
// (Debian: libmariadb-dev). Its tests and the mysql-demo sample start a throwaway MariaDB
// server (Debian: mariadb-server) through MariaDBScratch.
package.products += [
    .library(name: "WeaveMySQL", targets: ["WeaveMySQL"]),
    .executable(name: "mysql-demo", targets: ["MySQLDemo"]),
]
package.targets += [
    .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
    .target(name: "WeaveMySQL", dependencies: ["Weave", "CMariaDB"]),
    // A throwaway local MariaDB server (temporary data directory, loopback port, a user with a
    // password), for the tests and the sample; not a product.
    .target(name: "MariaDBScratch", dependencies: ["CMariaDB"], path: "Samples/MariaDBScratch"),
    .executableTarget(name: "MySQLDemo", dependencies: [
        "WeaveMySQL", "MariaDBScratch", "SampleSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ], path: "Samples/MySQLDemo"),
    .testTarget(name: "WeaveMySQLTests", dependencies: ["WeaveMySQL", "MariaDBScratch", "WeaveTestSupport"]),
]

// MARK: - AMQP
// WeaveAMQP: a cooperative AMQP 0-9-1 client (RabbitMQ) over any ByteStream: channels,
// declares, publisher confirms, consumers read by coroutines, heartbeats, flow control. Its
// tests start throwaway RabbitMQ brokers (Debian: rabbitmq-server) on loopback ports; the
// rabbit-work-queue and rabbit-rpc samples are the RabbitMQ tutorials' work queue and RPC.
package.products += [
    .library(name: "WeaveAMQP", targets: ["WeaveAMQP"]),
    .executable(name: "rabbit-work-queue", targets: ["RabbitWorkQueue"]),
    .executable(name: "rabbit-rpc", targets: ["RabbitRPC"]),
]
package.targets += [
    .target(name: "WeaveAMQP", dependencies: ["WeaveCore", "WeaveIO", "WeaveTLS"]),
    .executableTarget(name: "RabbitWorkQueue", dependencies: ["WeaveAMQP", "Weave", "SampleSupport", argumentParser],
                      path: "Samples/RabbitWorkQueue"),
    .executableTarget(name: "RabbitRPC", dependencies: ["WeaveAMQP", "Weave", "SampleSupport", argumentParser],
                      path: "Samples/RabbitRPC"),
    .testTarget(name: "WeaveAMQPTests", dependencies: ["WeaveAMQP", "WeaveTLS", "Weave", "WeaveTestSupport", "RabbitMQTestSupport"]),
    // A throwaway RabbitMQ broker per suite, for the AMQP and distributed-pool tests.
    .target(name: "RabbitMQTestSupport", dependencies: ["WeaveTestSupport"], path: "Tests/RabbitMQTestSupport"),
]

// MARK: - HTTP
// WeaveHTTP: an HTTP/1.1 server (blocking handler per request, generic over `ByteStream` so it
// runs over TCP and TLS alike) and the strict RFC 9112 parser under it, with swift-http-types'
// `HTTPRequest`/`HTTPResponse` as its currency types.
package.dependencies += [
    .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
]
package.products += [
    .library(name: "WeaveHTTP", targets: ["WeaveHTTP"]),
]
package.targets += [
    .target(name: "WeaveHTTP", dependencies: [
        "WeaveCore", "WeaveIO", "WeaveTLS",
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
    ]),
    .testTarget(name: "WeaveHTTPTests", dependencies: [
        "WeaveHTTP", "WeaveTLS", "Weave", "WeaveTestSupport",
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "InMemoryLogging", package: "swift-log"),
    ]),
]
// The http-server sample is built on WeaveHTTP (with WeaveTLS for --tls-cert); so is the
// crawler, on HTTPClient.
for target in package.targets where target.name == "HTTPServer" || target.name == "Crawler" {
    target.dependencies += ["WeaveHTTP", "WeaveTLS", .product(name: "HTTPTypes", package: "swift-http-types"),
                            .product(name: "Logging", package: "swift-log")]
}

// MARK: - TLS
// WeaveTLS: TLS client and server connections over any ByteStream, on the system's OpenSSL
// (Debian: libssl-dev) through memory BIOs, so a handshake or a read parks the coroutine, never
// the hub. Its tests make their certificates with the `openssl` command line. tls-echo is the
// Weave side of Benchmarks/compare-tls.sh.
package.products += [
    .library(name: "WeaveTLS", targets: ["WeaveTLS"]),
    .executable(name: "tls-echo", targets: ["TLSEcho"]),
]
package.targets += [
    .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
    .target(name: "WeaveTLS", dependencies: [
        "WeaveCore", "WeaveIO", "COpenSSL", .product(name: "Logging", package: "swift-log"),
    ]),
    .executableTarget(name: "TLSEcho", dependencies: ["WeaveTLS", "Weave", "SampleSupport", argumentParser],
                      path: "Samples/TLSEcho"),
    .testTarget(name: "WeaveTLSTests", dependencies: [
        "WeaveTLS", "Weave", "WeaveTestSupport", .product(name: "InMemoryLogging", package: "swift-log"),
    ]),
]

// MARK: - Distributed pool
// WeaveDistributed: DistributedPool and DistributedWorker, ProcessPool's tasks over a
// RabbitMQ work queue (WeaveAMQP). Its tests start their own broker and run the test worker
// program in its broker mode, so that program links it (and prime-pool, for --broker).
package.products += [
    .library(name: "WeaveDistributed", targets: ["WeaveDistributed"]),
]
package.targets += [
    .target(name: "WeaveDistributed", dependencies: ["WeaveAMQP", "WeaveProcess", "WeaveCore"]),
    .testTarget(name: "WeaveDistributedTests", dependencies: [
        "WeaveDistributed", "WeaveAMQP", "Weave", "WeaveTestSupport", "RabbitMQTestSupport", "TestTasks", "WeaveTestWorker",
        "PrimePool",
    ]),
]
for target in package.targets where target.name == "WeaveTestWorker" || target.name == "PrimePool" {
    target.dependencies += ["WeaveDistributed"]
}
