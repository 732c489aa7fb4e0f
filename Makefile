# The README's two commands: `make demo` (the tour) and `make test` (the test suite).
# Both install libuv1-dev with apt-get first when pkg-config cannot find libuv.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps demo test test-release test-context test-arm64 samples

deps:
	@pkg-config --exists libuv || { \
	  echo "installing libuv1-dev"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libuv1-dev pkg-config; }

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
