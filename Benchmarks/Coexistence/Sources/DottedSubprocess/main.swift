// swift-subprocess's names module-qualified with a dot, as for every other module. This does
// not compile while Weave exports a type named Subprocess (the type shadows the module), and
// compiles once that type has another name. check-coexistence.sh builds it and reports which.
import Subprocess
import Weave

let expected: Subprocess.TerminationStatus = .exited(0)
let result = try await Subprocess.run(.name("true"), output: .discarded)
print(result.terminationStatus == expected)
