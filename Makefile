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

# Quiet: the build's progress goes to $(BUILD)/build.log; on failure the errors are shown (without progress and
# directory lines) and the build fails.
build: configure
	@echo "coraft: building into $(BUILD)/ (the first build takes several minutes; progress in $(BUILD)/build.log)"
	@cmake --build $(BUILD) -j $(JOBS) >$(BUILD)/build.log 2>&1 || { \
	  grep -Ev '^\[ *[0-9]+%\]|(Entering|Leaving) directory|^Consolidate compiler generated' $(BUILD)/build.log; \
	  echo "coraft: the build failed (the whole log: $(BUILD)/build.log)"; exit 1; }

# A test without a TIMEOUT of its own gets 5 minutes (the longest takes under a minute): a hung test fails in minutes
# instead of holding CI for an hour.
test: build
	@cmake/install-deps.sh --test
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

# Supervises the replicas until Ctrl-C, which ends it cleanly (examples/cluster.sh). The recipe is a plain command so
# that make runs the script itself, not through a shell: a shell in between would die of the Ctrl-C and make would
# report the run as interrupted.
run: export CORAFT_BIN = $(abspath $(BUILD))/bin
run: build
	@examples/cluster.sh

deb: build
	@cmake/install-deps.sh --deb
	@cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD)
