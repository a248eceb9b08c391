# The two commands of the README:
#   make demo   set up, build, start agentbudgetd on its built-in defaults and
#               replay the bundled real agent traces through the ledger
#   make test   set up, build, run every test (plain build, static analysis,
#               ASan+UBSan build with crash points, TSan build, fuzz build)
JOBS ?= $(shell nproc)
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all setup build build-asan build-tsan build-fuzz demo test test-plain test-static test-asan test-tsan test-fuzz bench clean

all: build

setup:
	@scripts/setup.sh

build: setup
	cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > /dev/null
	cmake --build build -j $(JOBS)

build-asan: setup
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAB_SANITIZE=address -DAB_CRASH_POINTS=ON > /dev/null
	cmake --build build-asan -j $(JOBS)

build-tsan: setup
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAB_SANITIZE=thread > /dev/null
	cmake --build build-tsan -j $(JOBS)

# libFuzzer needs clang; this build holds only the libraries and the fuzz targets.
build-fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAB_FUZZ=ON > /dev/null
	cmake --build build-fuzz -j $(JOBS)

demo: build
	scripts/demo.sh build

test-plain: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer sees races between threads of one process; the
# multi-process tests are covered by the plain and ASan runs.
test-tsan: build-tsan
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j $(JOBS) -R "^Threads\\."

# Each fuzz target: its kept regression inputs, then AB_FUZZ_SECONDS (10) of fuzzing.
test-fuzz: build-fuzz
	cd build-fuzz && ctest --output-on-failure -j $(JOBS)

# clang-format, cppcheck and clang-tidy on the sources (see the script).
test-static: build
	scripts/static_analysis.sh build

# Every stage must pass before this runs, so all the tests counted passed.
test: test-plain test-static test-asan test-tsan test-fuzz
	@plain=$$(cd build && ctest -N | sed -n 's/^Total Tests: //p'); \
	 asan=$$(cd build-asan && ctest -N | sed -n 's/^Total Tests: //p'); \
	 tsan=$$(cd build-tsan && ctest -N -R "^Threads\\." | sed -n 's/^Total Tests: //p'); \
	 fuzz=$$(cd build-fuzz && ctest -N | sed -n 's/^Total Tests: //p'); \
	 echo "plain $$plain, ASan+UBSan $$asan, TSan $$tsan, fuzz targets $$fuzz"; \
	 echo "tests: $$((plain + asan + tsan + fuzz)) passed, 0 failed"

# The comparison of README "Performance": prints the table, saves bench/results/.
bench: build
	scripts/bench.sh build

clean:
	rm -rf build build-asan build-tsan build-fuzz
