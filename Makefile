# Berth: `make run` serves a registry on 127.0.0.1:5000, `make test` runs every test.
SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
BUILD_APT := libuv1-dev libhttp-parser-dev libssl-dev libcrypt-dev pkg-config
TEST_APT := skopeo podman docker-registry apache2-utils openssl curl strace containerd squid docker.io chromium chromium-driver swift swift-proxy swift-object swift-container swift-account python3-swift memcached
TEST_PIP := pytest requests oras python-dxf prometheus_client PyJWT cryptography selenium
BERTH := .build/release/berth

.PHONY: run build deps test-deps test unit-test integration-test fuzz-build fuzz-short fuzz bench bench-compare bench-instructions bench-mirror bench-fleet bench-loads soak clean

# Installs the named Debian packages that are not installed yet (one apt-get update first).
define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
endef

deps:
	$(call apt_install,$(BUILD_APT))

test-deps: deps
	$(call apt_install,$(TEST_APT))
	@$(PYTHON) -c "import pytest, requests, oras, dxf, prometheus_client, jwt, cryptography, selenium" 2>/dev/null || $(PYTHON) -m pip install -q $(TEST_PIP)

build: deps
	$(SWIFT) build -c release --static-swift-stdlib --product berth

run: build
	mkdir -p data
	$(BERTH) serve --config conf/berth.yml

unit-test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The suite runs twice: one worker process, then two (requests land on either).
integration-test: build test-deps
	BERTH_BIN=$(abspath $(BERTH)) BERTH_WORKERS=1 $(PYTHON) -m pytest -v -rs Tests/integration
	BERTH_BIN=$(abspath $(BERTH)) BERTH_WORKERS=2 $(PYTHON) -m pytest -v -rs Tests/integration

# libFuzzer targets (Tests/fuzz): a short run with a fixed seed in `make test`, a long one with new seeds in `make fuzz`.
# --sanitize fuzzer instruments only the fuzz target itself; the coverage flags reach every Berth module.
fuzz-build: deps
	BERTH_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz --sanitize fuzzer --sanitize address \
		-Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --product berth-fuzz

fuzz-short: fuzz-build
	SEED=1 bash Tests/fuzz/run.sh 20

fuzz: fuzz-build
	bash Tests/fuzz/run.sh $${FUZZ_SECONDS:-300}

# pytest's closing line comes last: it counts the tests.
test: fuzz-short unit-test integration-test

bench: build
	bash bench/run.sh

# The hot-path loads of `make bench` for two Berth binaries side by side: BEFORE=path/to/old/berth.
bench-compare: build
	@test -n "$(BEFORE)" || { echo "usage: make bench-compare BEFORE=path/to/old/berth"; exit 2; }
	$(PYTHON) bench/compare.py $(BEFORE) $(BERTH)

# Instructions per kept-alive manifest GET (TLS and plain) under callgrind, a figure the machine's load does not
# move: the release build, beside BEFORE=path/to/old/berth when given (bench/instructions.py).
bench-instructions: build
	cd bench && $(PYTHON) instructions.py $(if $(BEFORE),$(abspath $(BEFORE))) $(abspath $(BERTH))

# Issue 19's mirror pulls (cold, 20 clients, a slow client beside a fast one) beside a direct pull and docker-registry's
# proxy: BERTH_BIN (default: the release build) and BEFORE=path/to/old/berth side by side; MIRROR_ARGS="--sizes 64,1024,6144
# --slow-mib 6144 --readme 'Mirror pull ...'" (bench/mirror_pull.py --help).
bench-mirror: $(if $(BERTH_BIN),,build)
	BERTH_BIN=$(abspath $(or $(BERTH_BIN),$(BERTH))) BEFORE=$(if $(BEFORE),$(abspath $(BEFORE))) $(PYTHON) bench/mirror_pull.py $(MIRROR_ARGS)

# Issue 18's mirror fleet: 20 clients' cold pull of one 256 MiB blob through one node, three independent caches and three
# `cluster.peers` nodes behind nginx round-robin (bench/fleet.py --help: --size-mib, --clients, --rounds).
bench-fleet: $(if $(BERTH_BIN),,build)
	BERTH_BIN=$(abspath $(or $(BERTH_BIN),$(BERTH))) $(PYTHON) bench/fleet.py $(FLEET_ARGS)

# Issue 17's loads wrk cannot make (HEADs, pushes, whole-image push and pull, mirror cold pulls), `berth bench` against
# Berth beside docker-registry, and the chart bench/berth-bench.svg: LOADS_ARGS="--rounds 3 --seconds 3" (bench/registry_loads.py --help).
bench-loads: $(if $(BERTH_BIN),,build)
	BERTH_BIN=$(abspath $(or $(BERTH_BIN),$(BERTH))) $(PYTHON) bench/registry_loads.py --svg bench/berth-bench.svg $(LOADS_ARGS)

# Ten minutes of mixed pushes, pulls, deletes and online GC (2 workers, gc every 5 s, no delay), then
# `berth fsck`; not part of `make test`. SOAK_ARGS changes it (see Tests/soak/soak.py --help).
soak: build test-deps
	$(PYTHON) Tests/soak/soak.py --berth $(abspath $(BERTH)) $(SOAK_ARGS)

clean:
	rm -rf .build .build-fuzz
