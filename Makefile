# Outpost's front door. Two commands on a fresh machine:
#   make demo   builds the example site and shows a working tunnel in QEMU
#   make test   runs every test (unit, golden, ISA, QEMU end-to-end)
# Both install what they need first (scripts/bootstrap.sh, idempotent).

SHELL := /bin/bash
CARGO ?= cargo
MKOUTPOST := $(CARGO) run --release -q -p mkoutpost --
DEMO_CONFIG ?= examples/site/office.toml
CPU ?= i486

.PHONY: all deps image demo run test lint bench clean help

all: help

help:
	@echo "make demo    build the example site (examples/site), boot it in QEMU and narrate: tunnel up, ping, a fault, recovery"
	@echo "make run     build $(DEMO_CONFIG) for $(CPU) and boot it alone, its serial console on this terminal (Ctrl-C ends)"
	@echo "make test    install what is needed, then lint + every test"
	@echo "make image   build the default image into out/"
	@echo "make deps    install build dependencies only (apt, pip, Debian sources)"
	@echo "make bench   measure and record benchmarks (docs/benchmarks.md)"

deps:
	bash scripts/bootstrap.sh

image: deps
	$(MKOUTPOST) build $(DEMO_CONFIG) -o out/demo --cpu $(CPU)

run: image
	$(MKOUTPOST) run out/demo --memory 32

# The whole example site (examples/site/) in QEMU, narrated; ends with a
# summary and shuts the guests down (see outpost-demo --help).
demo: deps
	$(CARGO) run --release -q -p outpost-tests --bin outpost-demo

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Stages (scripts/test.sh): lint; build (every component for both CPUs,
# once, in parallel); unit, golden, fuzz and namespace tests; the QEMU
# suites; the whole example site last and uncaptured, so its boot-to-tunnel
# and recovery times show (printed, never asserted). Prints each stage's
# duration at the end and fails a run over CI's budget (.ci/budget).
test: deps
	bash scripts/test.sh

# The whole example site measured (issue 7): boot to tunnel, fault
# detection and recovery, throughput through the tunnel against a plain
# route, outpostd's memory and CPU, the office's smallest RAM, image sizes;
# min/median/max over BENCH_RUNS runs (default 3), printed and written to
# docs/benchmarks.md. About 15 minutes on 2 cores. BENCH_ARGS passes flags
# (see `cargo run -p outpost-tests --bin outpost-bench -- --help`).
bench: deps
	$(CARGO) run --release -q -p outpost-tests --bin outpost-bench -- $(BENCH_ARGS)

clean:
	rm -rf out target/e2e target-cross
