// swift-tools-version:6.0
// SwiftNIO's side of Benchmarks/compare-cores.sh: the handlers of Weave's http-server sample on
// NIOHTTP1 with N event loops. Its own package, so that neither Weave nor its benchmarks depend
// on swift-nio. Build: swift build -c release --package-path Benchmarks/Peers/nio-http-spin
import PackageDescription

let package = Package(
    name: "nio-http-spin",
    products: [
        .executable(name: "nio-http-spin", targets: ["NIOHTTPSpin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "NIOHTTPSpin",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
