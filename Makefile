# The two set-up commands of README.md: `make run` and `make test`.
TARGET := x86_64-unknown-linux-gnu
NETLAB := target/$(TARGET)/release/netlab

.PHONY: build run test lint unit bench bench-smoke

build:
	cargo build --release --locked

## Build netlab and run the built-in bridge-basic lab: up, verify, down.
run: build
	$(NETLAB) run bridge-basic

## Formatting, lints, unit tests, the real-engine tests, and a smoke run of
## the benchmark (so it cannot rot).
test: lint
	cargo test --locked -- --test-threads 4
	@echo "== benchmark smoke run (debug build, 3 nodes): proves bench/run.py works; its targets apply to 'make bench' only"
	python3 bench/run.py --sizes 3 --repeat 1 --checks 2 --netlab target/$(TARGET)/debug/netlab

lint:
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

## Pure tests only (no Docker).
unit:
	cargo test --locked --bin netlab

## netlab against docker compose and plain docker (bench/run.py).
bench: build
	python3 bench/run.py

## A quick check that the benchmark itself works: 3 nodes, one run.
bench-smoke:
	cargo build --locked
	python3 bench/run.py --sizes 3 --repeat 1 --checks 2 --netlab target/$(TARGET)/debug/netlab
