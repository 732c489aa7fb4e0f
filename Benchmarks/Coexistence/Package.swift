// swift-tools-version:6.1
// Compile-only check: Weave imported beside SwiftNIO's NIOCore and swift-subprocess, whose
// modules export names Weave also uses (Channel, IOError, SocketAddress, TerminationStatus, and
// the module name Subprocess). `bash Benchmarks/check-coexistence.sh` builds it; CI does not.
import PackageDescription

let package = Package(
    name: "Coexistence",
    dependencies: [
        // The checkout this package sits in. The name pins the package's identity, which would
        // otherwise be the checkout folder's name (weave, main, or whatever the clone is called).
        .package(name: "Weave", path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
    ],
    targets: [
        // Every colliding name, qualified; must build and run.
        .executableTarget(
            name: "Coexistence",
            dependencies: [
                .product(name: "Weave", package: "Weave"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
    ]
)
