// The worker program of the test suite's process pools: registers the test tasks and
// serves them. With `--pool-parent FILE` it is instead a pool's parent: it starts a pool
// of two workers (itself), writes their pids to FILE and waits to be killed; with
// `--distributed-caller URL QUEUE FILE`, a DistributedPool's caller that waits to be killed.
import Glibc
import TestTasks
import Weave
import WeaveDistributed

ProcessWorker.main(tasks: allTestTasks)
// With WEAVE_BROKER_URL set: a DistributedPool's worker (the WeaveDistributed tests).
DistributedWorker.main(tasks: allTestTasks)

let arguments = CommandLine.arguments
if arguments.count == 5 && arguments[1] == "--distributed-caller" {
    // A DistributedPool's caller that writes its reply queue's name to FILE and waits to
    // be killed (the test checks that its queue goes with it).
    try Hub.run {
        let pool = try DistributedPool(url: arguments[2], queue: arguments[3])
        let file = fopen(arguments[4] + ".tmp", "w")
        fputs(pool.replyQueue + "\n", file)
        fclose(file)
        rename(arguments[4] + ".tmp", arguments[4])
        try Coroutine.sleep(for: .seconds(120))
        pool.close()
    }
} else if arguments.count == 3 && arguments[1] == "--pool-parent" {
    try Hub.run {
        let pool = try ProcessPool(configuration: .init(workers: 2))
        _ = try pool.apply(Square(2))  // both workers started and serving
        let line = pool.workerPIDs.map(String.init).joined(separator: " ") + "\n"
        let file = fopen(arguments[2] + ".tmp", "w")
        fputs(line, file)
        fclose(file)
        rename(arguments[2] + ".tmp", arguments[2])
        try Coroutine.sleep(for: .seconds(120))
    }
} else {
    print("WeaveTestWorker: meant to be run by a ProcessPool (or with --pool-parent FILE)")
}
