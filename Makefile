# The two commands of the README:
#   make demo   set up, build, start agentbudgetd on its built-in defaults and
#               replay the bundled real agent traces through the ledger
#   make test   set up, build, run every test (plain and ASan+UBSan builds)
JOBS ?= $(shell nproc)
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all setup build build-asan demo test test-plain test-asan bench clean

all: build

setup:
	@scripts/setup.sh

build: setup
	cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build build -j $(JOBS)

build-asan: setup
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAB_SANITIZE=address > /dev/null
	cmake --build build-asan -j $(JOBS)

demo: build
	scripts/demo.sh build

test-plain: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

test: test-plain test-asan

bench: build
	build/bench/ab_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

clean:
	rm -rf build build-asan
