# Build, check and test fuse-backend-rs over its feature combinations.
#
#   make test     - unit, protocol and real-mount tests (needs root and /dev/fuse)
#   make check    - layers, fmt, clippy -D warnings for every feature combination, cargo-deny
#   make layers   - module dependencies point one way (scripts/check-layers.sh)
#   make demo     - mount a temporary directory through the passthrough example
#   make bench    - criterion benchmarks of the request server
#   make fuzz     - run each fuzz target (FUZZ_TARGETS) for FUZZ_SECONDS (default 600)
#   make ci-extra - make doc, then every fuzz target for FUZZ_SMOKE_SECONDS (default 20)
#   make inode-memory - daemon RSS per million inodes held (INODES, default 1000000; root)

CARGO ?= cargo
# `async-io` is not listed: the feature is declared for compatibility but adds no code yet
# (see Cargo.toml), so building or linting it would only repeat `fusedev`.
FEATURE_SETS := fusedev virtiofs vhost-user-fs fusedev,virtiofs fusedev,persist
CLIPPY_FLAGS := -D warnings

.PHONY: all build check layers fmt clippy deny deny-advisories test test-unit test-integration \
	doc demo bench fuzz ci-extra deps virtiofs-e2e compat downstream api-diff inode-memory

all: build

build:
	$(CARGO) build --all-targets
	@for f in $(FEATURE_SETS); do \
		echo "== build --features $$f"; \
		$(CARGO) build --no-default-features --features "$$f" --lib || exit 1; \
	done

# abi <- common/errno/sys <- buffer <- api <- transport; drivers use api, never transport.
layers:
	./scripts/check-layers.sh src

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

check: layers fmt clippy deny doc

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

# Daemon memory per inode: N files stat'ed through the release passthrough example.
INODES ?= 1000000
inode-memory:
	./scripts/inode-memory.sh $(INODES)

# Every [[bin]] of fuzz/Cargo.toml, so a new target cannot be left out. The targets are
# built once, then each runs for FUZZ_SECONDS.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= $(shell awk '/^\[\[bin\]\]/ { bin = 1; next } \
	bin && $$1 == "name" { gsub(/"/, "", $$3); print $$3; bin = 0 }' fuzz/Cargo.toml)
fuzz:
	@test -n "$(FUZZ_TARGETS)" || { echo "fuzz: no targets in fuzz/Cargo.toml"; exit 1; }
	./fuzz/run.sh --build
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t"; ./fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; \
	done

# Checks beyond `.ci/run`'s: the docs build without warnings, and a short run of every
# fuzz target (FUZZ_SMOKE_SECONDS each). From a fresh clone (cold builds, one cargo job)
# it took 3.5 minutes on the 2-core machine, plus about a minute where cargo-fuzz has to
# be installed first.
FUZZ_SMOKE_SECONDS ?= 20
ci-extra: doc
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# Debian packages the tests and benchmarks use (run as root).
deps:
	./scripts/install-deps.sh

# virtio-fs end to end: the vhost_user_fs example serves a temporary directory to a
# throwaway QEMU guest that runs tests/scripts/virtiofs-guest-smoke.sh.
virtiofs-e2e:
	./scripts/virtiofs-e2e.sh

# Drop-in check: nydus-rafs 0.4.1 and nydus-storage 0.7.2 from crates.io, written against
# upstream fuse-backend-rs 0.14, built against this crate through [patch.crates-io].
compat:
	cd compat/nydus && $(CARGO) build
	@cd compat/nydus && $(CARGO) tree -i fuse-backend-rs@0.14.1 -e normal >/dev/null \
		|| { echo "compat: the patch to this crate was not used"; exit 1; }

# The issue's name for the drop-in check.
downstream: compat

# Public API diff against upstream 0.14 from rustdoc JSON (nightly JSON output through
# RUSTC_BOOTSTRAP, same toolchain for both). UPSTREAM is the unpacked upstream crate, e.g.
# from `cargo download fuse-backend-rs==0.14.0` or ~/.cargo/registry/src/*/; it is built
# in a copy with the Linux features minus async-io, which is tracked on its own.
#   make api-diff UPSTREAM=/path/to/fuse-backend-rs-0.14.0
API_DIFF_DIR ?= target/api-diff
UPSTREAM_FEATURES ?= fusedev,virtiofs,vhost-user-fs,persist
api-diff:
	@test -n "$(UPSTREAM)" || { echo "api-diff: set UPSTREAM=<unpacked upstream crate>"; exit 2; }
	rm -rf $(API_DIFF_DIR)/upstream && mkdir -p $(API_DIFF_DIR) && cp -r $(UPSTREAM) $(API_DIFF_DIR)/upstream
	cd $(API_DIFF_DIR)/upstream && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=../upstream-target \
		$(CARGO) rustdoc --lib --no-default-features --features $(UPSTREAM_FEATURES) \
		-- -Z unstable-options --output-format json
	RUSTC_BOOTSTRAP=1 $(CARGO) rustdoc --lib --all-features -- -Z unstable-options --output-format json
	python3 scripts/api-diff.py --exclude-async $(API_DIFF_DIR)/upstream-target/doc/fuse_backend_rs.json \
		$${CARGO_TARGET_DIR:-target}/doc/fuse_backend_rs.json
