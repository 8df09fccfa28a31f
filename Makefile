# SPDX-License-Identifier: ISC
# Thin wrapper over Meson + Ninja.  `make check` and `make demo` are the two
# commands of the README; both install missing Debian packages when run as
# root (scripts/install-deps.sh holds the one list, in sets by purpose).
# `make build` needs no root: it only reports missing build packages.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build build-asan build-fuzz check format unit unit-asan integration demo demo-stop bench bench-console fuzz clean install deb package-check

all: build

# Every set; the targets below ask only for theirs.
deps:
	@./scripts/install-deps.sh all

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# The build set: installed as root, only reported otherwise.  Order-only,
# so that the configure step sees the packages.
$(BUILD)/build.ninja $(BUILD_ASAN)/build.ninja $(BUILD_FUZZ)/build.ninja: | deps-build

.PHONY: deps-build deps-test deps-demo deps-bench deps-package
deps-build:
	@./scripts/install-deps.sh build
deps-test:
	@./scripts/install-deps.sh test
deps-demo:
	@./scripts/install-deps.sh demo
deps-bench:
	@./scripts/install-deps.sh bench
deps-package:
	@./scripts/install-deps.sh package

build-asan: $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

# CI fuzzes each target for a minute; a developer's `make check` for 10 s.
CHECK_FUZZ_SECONDS ?= $(if $(CI),60,10)

check: deps-test build build-asan build-fuzz
	@./scripts/check-banned.sh
	@./scripts/check-format.sh
	@FUZZ_BUILD=$(BUILD_FUZZ) FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) \
	    ./tests/run-tests.sh $(BUILD) $(BUILD_ASAN)

# Rewrites every C file as .clang-format says (make check fails on drift).
format:
	@./scripts/check-format.sh --fix

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

integration: build
	@./tests/integration/run.sh $(BUILD)

demo: deps-demo build
	@./scripts/demo.sh $(BUILD)

demo-stop:
	@./scripts/demo.sh --stop

bench: deps-bench build
	@./bench/run.sh $(BUILD)

# The web console at 1,000,000 hosts (bench/console/run.sh; docs/console.md).
bench-console: build
	@./bench/console/run.sh $(BUILD)

$(BUILD_FUZZ)/build.ninja:
	CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true -Dtests=false >/dev/null

build-fuzz: deps-test $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)

fuzz: build-fuzz
	@./fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# Install what `meson install` installs (DESTDIR honoured; PREFIX at
# configure time: `meson setup --prefix=/usr build`).
install: build
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir "$(DESTDIR)")

# Debian packages (debian/), built from a copy of the tree in $(DEB_DIR) so
# that dpkg-buildpackage writes nothing outside it; the .debs land there.
DEB_DIR ?= build-deb
deb: deps-package
	@./scripts/make-deb.sh $(DEB_DIR)

# Installs the package into a fresh Debian 12 root (debootstrap, minutes;
# root) and runs `ecad -t` and `eca --version` there.
package-check: deb
	@./scripts/package-check.sh $(DEB_DIR)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(DEB_DIR)
