# The README's two commands: `make demo` (the tour) and `make test` (the test suite).
# Both install first, with apt-get, what is missing: libuv1-dev, MariaDB Connector/C, and the
# servers the client tests start on loopback (see .ci/install-deps.sh).
SWIFT ?= swift

.PHONY: deps demo test test-release test-context test-arm64 samples

deps:
	@bash .ci/install-deps.sh

demo: deps
	$(SWIFT) run -c release tour

test: deps
	$(SWIFT) test

# The spawn suites once more, optimised: the detached spawn's end never returns, so what
# its frames still hold when it ends depends on the optimiser; check both builds. The
# exclusivity hazards too: the suspended-access trap must be on by default in release.
test-release: deps
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-release-tests
	$(SWIFT) test -c release -Xswiftc -enable-testing --scratch-path .build-release-tests --skip-build \
	  --filter 'SpawnDetachedTests|SpawnJoinTests|CancellationTests|FinishingCoroutineTests|ExclusivityHazardTests'

# The context switch on its own, in C: natively, and as AArch64 under qemu-user.
test-context:
	$(MAKE) -C Tests/ContextHarness test-native

test-arm64:
	$(MAKE) -C Tests/ContextHarness test-arm64

samples: deps
	$(SWIFT) build -c release
