import Testing
import Weave
import WeaveTestSupport

private let requestID = CoroutineLocal<String>(default: "none")

@Suite("coroutine-local values")
struct CoroutineLocalTests {
    @Test("bound per coroutine, inherited by children, restored after the scope")
    func binding() async throws {
        let seen = try await onHub { () throws -> [String] in
            var seen: [String] = [requestID.value]
            try requestID.withValue("r-1") {
                let child = try spawn { () throws -> String in
                    try Coroutine.yield()
                    return requestID.value
                }
                let other = try requestID.withValue("r-2") { try spawn { requestID.value } }
                seen.append(requestID.value)
                seen.append(try child.join())
                seen.append(try other.join())
            }
            let unbound = try spawn { requestID.value }
            seen.append(try unbound.join())
            seen.append(requestID.value)
            return seen
        }
        #expect(seen == ["none", "r-1", "r-1", "r-2", "none", "none"])
    }
}
