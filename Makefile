# Thin wrapper over Meson + Ninja.  `make check` and `make demo` are the two
# commands of the README; both install missing Debian packages when run as
# root (scripts/install-deps.sh holds the one list).

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build build-asan build-fuzz check unit unit-asan integration demo demo-stop bench fuzz clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

# CI fuzzes each target for a minute; a developer's `make check` for 10 s.
CHECK_FUZZ_SECONDS ?= $(if $(CI),60,10)

check: build build-asan build-fuzz
	@./scripts/check-banned.sh
	@FUZZ_BUILD=$(BUILD_FUZZ) FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) \
	    ./tests/run-tests.sh $(BUILD) $(BUILD_ASAN)

unit: build
	meson test -C $(BUILD) --suite unit --print-errorlogs

integration: build
	@./tests/integration/run.sh $(BUILD)

demo: build
	@./scripts/demo.sh $(BUILD)

demo-stop:
	@./scripts/demo.sh --stop

bench: build
	@./bench/run.sh $(BUILD)

$(BUILD_FUZZ)/build.ninja:
	CC=clang meson setup $(BUILD_FUZZ) -Dfuzz=true -Dtests=false >/dev/null

build-fuzz: deps $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)

fuzz: build-fuzz
	@./fuzz/run.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
