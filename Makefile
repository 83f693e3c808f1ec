# The two set-up commands of README.md: `make run` and `make test`.
TARGET := x86_64-unknown-linux-gnu
NETLAB := target/$(TARGET)/release/netlab
NETLAB_DEBUG := target/$(TARGET)/debug/netlab
# The debug build without its debug info (45 MB instead of 270 MB), for
# the tests that run it: the agent image is made of this file, and an
# engine on the vfs storage driver copies the image into every container
# it creates (bridge-basic took 43 s a cell on those engines, 12 s with
# this). Made fresh in the engine tests' stage; a plain copy where there
# is no `strip`.
NETLAB_LEAN := target/$(TARGET)/debug/netlab-lean
HOSTS ?= 2
PREFIX ?= $(HOME)/.local

.PHONY: build run test lint unit bench bench-smoke hosts hosts-down test-engines test-pool-end lean man install

build:
	cargo build --release --locked

## Build netlab and run the built-in bridge-basic lab: up, verify, down.
run: build
	$(NETLAB) run bridge-basic

## Formatting, lints, unit tests, the real-engine tests (two simulated hosts
## included), every built-in lab on Docker 20.10, 26.1 and 28.5, and a smoke
## run of the benchmark (so it cannot rot); at the end, the time of each
## stage (harness/stages.sh), also when one failed.
## The VM (macvlan, ipvlan, netem: harness/vm-stage.sh) boots in the
## background from the start and is awaited by its own stage, then stopped
## whatever happened.
test:
	@harness/vm-stage.sh boot; \
	harness/stages.sh \
	  "lint=make --no-print-directory lint" \
	  "build tests=cargo test --locked --no-run" \
	  "unit=RUST_BACKTRACE=0 cargo test --locked --bin netlab" \
	  "engine tests=(strip -o $(NETLAB_LEAN) $(NETLAB_DEBUG) || cp $(NETLAB_DEBUG) $(NETLAB_LEAN)) && NETLAB_TEST_BIN=$(CURDIR)/$(NETLAB_LEAN) cargo test --locked --no-fail-fast --test '*' -- --test-threads 4" \
	  "engine matrix=harness/test-engines.sh $(NETLAB_LEAN)" \
	  "vm engine=harness/vm-stage.sh run $(NETLAB_LEAN)" \
	  "benchmark smoke=echo 'debug build, 3 nodes: proves bench/run.py works; its targets apply to make bench only' && python3 bench/run.py --sizes 3 --repeat 1 --checks 2 --netlab $(NETLAB_LEAN)"; \
	status=$$?; harness/vm-stage.sh stop; exit $$status

lint:
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

## Pure tests only (no Docker).
unit:
	cargo test --locked --bin netlab

## The man pages, from the same clap definitions as the command line.
man: build
	$(NETLAB) man target/man

## netlab into $(PREFIX)/bin (~/.local/bin), with its man pages and the
## completions of bash, zsh and fish where each shell looks for them.
install: man
	install -D -m 755 $(NETLAB) $(PREFIX)/bin/netlab
	install -D -m 644 -t $(PREFIX)/share/man/man1 target/man/*.1
	mkdir -p target/completions
	$(NETLAB) completions bash > target/completions/netlab
	$(NETLAB) completions zsh > target/completions/_netlab
	$(NETLAB) completions fish > target/completions/netlab.fish
	install -D -m 644 -t $(PREFIX)/share/bash-completion/completions target/completions/netlab
	install -D -m 644 -t $(PREFIX)/share/zsh/site-functions target/completions/_netlab
	install -D -m 644 -t $(HOME)/.config/fish/completions target/completions/netlab.fish

## Every built-in lab on each engine version, from this machine's namespace:
## a table of labs x engines (root; starts and stops the engines itself).
test-engines: lean
	harness/test-engines.sh $(NETLAB_LEAN)

## The real-engine tests with the engine's pool rotation at its end: the
## first network they make gets 172.31.0.0/16, the last of Docker's
## default /16s (tests must not assume which subnet the engine picks).
test-pool-end: lean
	harness/pool-end.sh env NETLAB_TEST_BIN=$(CURDIR)/$(NETLAB_LEAN) cargo test --locked --no-fail-fast --test '*' -- --test-threads 4

## Start $(HOSTS) extra engines of this machine's dockerd (root), each in
## its own network namespace on a private bridge with no route out, and
## print the NETLAB_HOSTS binding to use.
hosts:
	harness/engines.sh hosts $(HOSTS)

## Remove the engines `make hosts` started, with all their state.
hosts-down:
	harness/engines.sh hosts-down

## netlab against docker compose and plain docker (bench/run.py).
bench: build
	python3 bench/run.py

## A quick check that the benchmark itself works: 3 nodes, one run.
bench-smoke: lean
	python3 bench/run.py --sizes 3 --repeat 1 --checks 2 --netlab $(NETLAB_LEAN)

lean:
	cargo build --locked
	strip -o $(NETLAB_LEAN) $(NETLAB_DEBUG) || cp $(NETLAB_DEBUG) $(NETLAB_LEAN)
