# Build, check and test fuse-backend-rs over its feature combinations.
#
#   make test     - unit, protocol and real-mount tests (needs root and /dev/fuse)
#   make check    - fmt, clippy -D warnings for every feature combination, cargo-deny
#   make demo     - mount a temporary directory through the passthrough example
#   make bench    - criterion benchmarks of the request server
#   make fuzz     - run the request fuzzer (FUZZ_SECONDS, default 600)

CARGO ?= cargo
FEATURE_SETS := fusedev virtiofs vhost-user-fs fusedev,virtiofs fusedev,async-io fusedev,persist
CLIPPY_FLAGS := -D warnings

.PHONY: all build check fmt clippy deny deny-advisories test test-unit test-integration \
	doc demo bench fuzz deps virtiofs-e2e

all: build

build:
	$(CARGO) build --all-targets
	@for f in $(FEATURE_SETS); do \
		echo "== build --features $$f"; \
		$(CARGO) build --no-default-features --features "$$f" --lib || exit 1; \
	done

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- $(CLIPPY_FLAGS)
	$(CARGO) clippy --all-targets --all-features -- $(CLIPPY_FLAGS)
	$(CARGO) clippy --lib --no-default-features -- $(CLIPPY_FLAGS)
	@for f in $(FEATURE_SETS); do \
		echo "== clippy --features $$f"; \
		$(CARGO) clippy --lib --no-default-features --features "$$f" -- $(CLIPPY_FLAGS) || exit 1; \
	done

deny:
	$(CARGO) deny check licenses bans sources

deny-advisories:
	$(CARGO) deny check advisories

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --all-features

check: fmt clippy deny doc

# Unit and protocol tests for every feature combination, then the real-mount tests once.
test-unit:
	$(CARGO) test --lib --no-default-features --features test-utils
	@for f in $(FEATURE_SETS); do \
		echo "== test --lib --features $$f"; \
		$(CARGO) test --lib --no-default-features --features "$$f,test-utils" || exit 1; \
	done
	$(CARGO) test --doc --all-features

test-integration:
	$(CARGO) test --tests --all-features -- --test-threads=2

test: test-unit test-integration

# A newcomer's first minute: mount a temporary directory, look around, unmount.
demo:
	$(CARGO) build --release --example passthrough
	./scripts/demo.sh target/release/examples/passthrough

bench:
	$(CARGO) bench --bench server --features test-utils

FUZZ_SECONDS ?= 600
fuzz:
	./fuzz/run.sh $(FUZZ_SECONDS)

# Debian packages the tests and benchmarks use (run as root).
deps:
	./scripts/install-deps.sh

# virtio-fs end to end: the vhost_user_fs example serves a temporary directory to a
# throwaway QEMU guest that runs tests/scripts/virtiofs-guest-smoke.sh.
virtiofs-e2e:
	./scripts/virtiofs-e2e.sh
