// Weave, SwiftNIO's NIOCore and swift-subprocess in one file, each name two of them export
// written with its module. `bash Benchmarks/check-coexistence.sh` builds and runs it.
import Glibc
import NIOCore
import Subprocess
import Weave

// Channel: Weave's coroutine channel (a class) beside NIO's network channel (a protocol).
func makeWeaveChannel() -> Weave.Channel<Int> { Weave.Channel<Int>(capacity: 1) }
func isActive(_ channel: any NIOCore.Channel) -> Bool { channel.isActive }

// IOError: Weave's stream error beside NIO's errno error.
func isClosed(_ error: Weave.IOError) -> Bool { error.code == .closed }
let nioError = NIOCore.IOError(errnoCode: ECONNRESET, reason: "read")

// SocketAddress: Weave's struct beside NIO's enum.
let weaveAddress = try Weave.SocketAddress(ip: "127.0.0.1", port: 8080)
let nioAddress = try NIOCore.SocketAddress(ipAddress: "127.0.0.1", port: 8080)

// TerminationStatus and run: Weave's `Command.run` beside swift-subprocess's `Subprocess.run`.
// (Weave's runner is not named `Subprocess`: a type of that name would shadow the module,
// and `Subprocess.run` would then look inside Weave's type.)
let weaveExpected: Weave.TerminationStatus = .exited(0)
let subprocessExpected: Subprocess.TerminationStatus = .exited(0)

let (received, weaveStatus) = try Hub.run {
    let channel = makeWeaveChannel()
    try channel.send(1)
    let result = try Weave.Command.run("true")
    return (try channel.receive(), result.status)
}
let subprocessResult = try await Subprocess.run(.name("true"), output: .discarded)

print("Weave.Channel received \(received.map(String.init) ?? "nothing"); NIOCore.IOError: \(nioError)")
print("Weave.SocketAddress \(weaveAddress); NIOCore.SocketAddress \(nioAddress)")
print("Weave.Command.run(\"true\"): \(weaveStatus); Subprocess.run(.name(\"true\")): \(subprocessResult.terminationStatus)")
guard received == 1, weaveStatus == weaveExpected, subprocessResult.terminationStatus == subprocessExpected else {
    print("unexpected result")
    exit(1)
}
