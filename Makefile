# squall: the two commands a new user runs are `make run` and `make test`.
# Every target first installs missing Debian packages (scripts/install-deps).

BUILD     ?= build
ASAN      ?= build-asan
FUZZBUILD ?= build-fuzz
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc)
FUZZ_SECONDS ?= 60
PORT      ?= 8888
CMAKE_FLAGS ?=

.PHONY: all deps build test run asan fuzz bench install clean format

all: build

deps:
	@scripts/install-deps build test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	./$(BUILD)/examples/hello --port $(PORT)

asan: deps
	cmake -S . -B $(ASAN) -DSQUALL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

fuzz:
	@scripts/install-deps fuzz
	CC=clang-14 cmake -S . -B $(FUZZBUILD) -DSQUALL_FUZZ=ON -DSQUALL_TESTS=OFF \
	  -DSQUALL_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(FUZZBUILD) -j $(JOBS)
	fuzz/run $(FUZZBUILD) $(FUZZ_SECONDS)

bench: build
	@scripts/install-deps bench
	bench/run $(BUILD)

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZBUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
