// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Weave",
    products: [
        .library(name: "Weave", targets: ["Weave"]),
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
        .target(
            name: "Weave",
            dependencies: [
                "CLibUV",
                "CWeaveContext",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
            ]
        ),
        .executableTarget(name: "Tour", dependencies: ["Weave"], path: "Samples/Tour"),
        .executableTarget(name: "ProducerConsumer", dependencies: ["Weave"], path: "Samples/ProducerConsumer"),
        .executableTarget(name: "TrafficLight", dependencies: ["Weave"], path: "Samples/TrafficLight"),
        .target(name: "SampleSupport", path: "Samples/SampleSupport"),
        .executableTarget(name: "EchoServer", dependencies: ["Weave", "SampleSupport"], path: "Samples/EchoServer"),
        .executableTarget(name: "HTTPServer", dependencies: ["Weave", "SampleSupport"], path: "Samples/HTTPServer"),
        .executableTarget(name: "SelectServer", dependencies: ["Weave", "SampleSupport"], path: "Samples/SelectServer"),
        .executableTarget(name: "ChatServer", dependencies: ["Weave", "SampleSupport"], path: "Samples/ChatServer"),
        .executableTarget(name: "Crawler", dependencies: ["Weave", "SampleSupport"], path: "Samples/Crawler"),
        .executableTarget(name: "PrimePool", dependencies: ["Weave", "SampleSupport"], path: "Samples/PrimePool"),
        // Not "ProcessInfo": a module of that name would shadow Foundation's type for its users.
        .executableTarget(name: "ProcessInfoSample", dependencies: ["Weave"], path: "Samples/ProcessInfo"),
        .executableTarget(name: "PipeDemo", dependencies: ["Weave"], path: "Samples/PipeDemo"),
        .executableTarget(name: "QueueDemo", dependencies: ["Weave"], path: "Samples/QueueDemo"),
        .executableTarget(name: "ManagerDemo", dependencies: ["Weave"], path: "Samples/ManagerDemo"),
        // Task types shared by the tests and the worker program their process pools run.
        .target(name: "TestTasks", dependencies: ["Weave"], path: "Tests/TestTasks"),
        .executableTarget(name: "WeaveTestWorker", dependencies: ["Weave", "TestTasks"], path: "Tests/WeaveTestWorker"),
        .testTarget(name: "WeaveTests", dependencies: ["Weave", "TestTasks", "WeaveTestWorker"]),
    ]
)
