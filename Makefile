# surgewatch: one non-recursive Makefile.
#
#   make                 build build/surgewatch (and the test/bench programs)
#   make SAN=1           the same with AddressSanitizer + UBSan, in build/san/
#   make test            build, start the test servers, run every test
#                        (this is what scripts/test runs)
#   make unit            unit tests only (no servers)
#   make format          rewrite sources with clang-format
#   make format-check    fail when a source is not clang-format clean
#   make fuzz            build the fuzz targets and run each FUZZ_SECONDS
#   make bench           run the benchmarks under bench/
#   make soak            the soak test: every component on real servers with
#                        faults for SOAK_SECONDS (default 600), compared with
#                        a backtest (tests/soak/README.md)
#   make clean

CC      ?= cc
PKG_CONFIG ?= pkg-config
PKGS    := rdkafka libzmq hiredis msgpack yajl inih libmicrohttpd libsodium zlib
BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif
OPT     ?= -O2 -g

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wno-format-nonliteral
INCS    := -Icommon -Iingest -Iconfig -Idetectors -Ialerts
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) $(INCS) \
           $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(EXTRA_CFLAGS)
# libcsv ships no pkg-config file
LDLIBS  := $(shell $(PKG_CONFIG) --libs $(PKGS)) -lcsv -lm -lpthread
# jemalloc: librdkafka allocates each message in its fetcher thread and the
# consumer frees it in another; glibc's malloc serialises that on an arena
# lock (the worker ran 1.7x faster with jemalloc, bench/RESULTS.md). Not
# in the sanitizer build, whose allocator is ASan's.
ifneq ($(SAN),1)
LDLIBS  += -Wl,--no-as-needed $(shell $(PKG_CONFIG) --libs jemalloc) -Wl,--as-needed
endif
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)

# ---- the library (everything but the entry points) ----
LIB_SRCS := \
    common/sw_err.c common/sw_log.c common/sw_time.c common/sw_lines.c \
    common/sw_ring.c common/sw_redis.c common/sw_http.c \
    config/sw_config.c config/sw_settings.c config/sw_thresholds.c \
    detectors/sw_detector.c detectors/sw_engine.c detectors/sw_profile_eval.c \
    alerts/sw_alert.c alerts/sw_alert_log.c alerts/sw_alert_wire.c alerts/sw_acl.c \
    alerts/sw_replay_req.c \
    ingest/sw_event.c ingest/sw_event_text.c ingest/sw_producer.c \
    ingest/sw_checkpoint.c
CMD_SRCS := src/main.c src/sw_cmd_common.c src/sw_cmd_settings.c src/cmd_publish.c src/cmd_backtest.c \
    src/cmd_run.c src/cmd_hub.c src/cmd_subscribe.c src/cmd_keygen.c src/cmd_ctl.c \
    src/cmd_demo.c src/sw_demo_scenario.c src/hub_web.c

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libsurgewatch.a
BIN      := $(BUILD)/surgewatch

# ---- unit tests (cmocka), one file per module ----
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# ---- helper programs for integration tests and benchmarks ----
TOOL_SRCS := $(wildcard tests/tools/*.c) $(wildcard bench/*.c)
TOOL_BINS := $(patsubst %.c,$(BUILD)/%,$(TOOL_SRCS))

ALL_SRCS := $(LIB_SRCS) $(CMD_SRCS) $(UNIT_SRCS) $(TOOL_SRCS)
DEPS := $(ALL_SRCS:%.c=$(BUILD)/%.d)

.PHONY: all test unit format format-check fuzz bench soak clean
.SECONDARY:
all: $(BIN) $(UNIT_BINS) $(TOOL_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# the web view's page (web/index.html), compiled in as a byte array
$(BUILD)/web_page.c: web/index.html
	@mkdir -p $(@D)
	{ echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char sw_web_page[];'; \
	  echo 'extern const size_t sw_web_page_len;'; \
	  echo 'const unsigned char sw_web_page[] = {'; \
	  od -An -v -tx1 $< | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0};'; \
	  echo "const size_t sw_web_page_len = $$(wc -c < $<);"; } > $@.tmp && mv $@.tmp $@

$(BUILD)/web_page.o: $(BUILD)/web_page.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BIN): $(CMD_OBJS) $(BUILD)/web_page.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJS) $(BUILD)/web_page.o $(LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

unit: $(UNIT_BINS)
	@tests/run-unit $(UNIT_BINS)

test:
	scripts/test

# ---- formatting ----
FMT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
format:
	clang-format -i $(FMT_SRCS)
format-check:
	@bad=0; for f in $(FMT_SRCS); do \
	    clang-format --dry-run -Werror $$f >/dev/null 2>&1 || { echo "not clang-format clean: $$f"; bad=1; }; \
	done; \
	if [ $$bad = 0 ]; then echo "format-check: all sources clean"; else \
	    echo "format-check: run 'make format'"; exit 1; fi

# ---- fuzzing (libFuzzer, clang) ----
# tests/fuzz/run says what a run does; the long check of every target:
#   make fuzz FUZZ_SECONDS=300 FUZZ_JOBS=2
FUZZ_SECONDS ?= 60
# targets fuzzed at once (default: 2, or 1 on a one-CPU machine)
FUZZ_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 2 ] && n=2; echo $$n)
FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_SAN := address,undefined
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-sanitize-recover=undefined \
    $(INCS) -Isrc $(shell $(PKG_CONFIG) --cflags $(PKGS))
# the library is compiled once (instrumented) and linked into every target
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_HDRS := $(wildcard tests/fuzz/*.h src/*.h common/*.h ingest/*.h \
    config/*.h detectors/*.h alerts/*.h)
# LDLIBS without jemalloc: the sanitizers bring their own allocator
FUZZ_LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS)) -lcsv -lm -lpthread
# targets that run command code in-process: the src/ files they need, and
# their link flags (fuzz_ctl_args sends every Redis connection to a
# closed port: tests/fuzz/fuzz_ctl_args.c)
FUZZ_EXTRA_ctl_args := src/cmd_ctl.c src/cmd_backtest.c src/sw_cmd_common.c \
    src/sw_cmd_settings.c
FUZZ_LINK_ctl_args := -Wl,--wrap=sw_redis_connect
FUZZ_EXTRA_http := src/hub_web.c $(FUZZ_DIR)/web_page.c

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -MMD -MP \
	    -c $< -o $@

$(FUZZ_DIR)/web_page.c: $(BUILD)/web_page.c
	@mkdir -p $(@D)
	cp $< $@

$(FUZZ_DIR)/fuzz_ctl_args: $(FUZZ_EXTRA_ctl_args)
$(FUZZ_DIR)/fuzz_http: $(FUZZ_EXTRA_http)
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS) $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< \
	    $(FUZZ_EXTRA_$*) $(FUZZ_LIB_OBJS) $(FUZZ_LINK_$*) $(FUZZ_LDLIBS)

fuzz: $(FUZZ_BINS)
	@tests/fuzz/run -j $(FUZZ_JOBS) $(FUZZ_SECONDS) $(FUZZ_BINS)

-include $(FUZZ_LIB_OBJS:.o=.d)

bench: all
	bench/run

soak: all
	tests/soak/run

clean:
	rm -rf build

-include $(DEPS)
