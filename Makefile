# The two set-up commands (see README.md):
#   make run   - install what is missing, build, start a local 3-replica cluster
#   make test  - install what is missing, build, run the whole test suite
# Further usage (README, "Run it as a service"):
#   make deb   - build, then the Debian package build/coraft_<version>_<arch>.deb (CPack, from the build tree)
BUILD ?= build
JOBS ?= $(shell nproc)
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= ON
SANITIZE ?= OFF

.PHONY: all deps configure build test run deb clean

all: build

deps:
	@cmake/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCORAFT_WERROR=$(WERROR) -DCORAFT_SANITIZE=$(SANITIZE) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cmake/install-deps.sh --test
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	@examples/cluster.sh

deb: build
	@cmake/install-deps.sh --deb
	@cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD)
