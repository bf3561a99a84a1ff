# xckpt: top-level build.  See README.md.
#
# Layout: one folder per subsystem (src/, xproxy/, ptysupport/), each built
# into a static archive; the protocol tables are generated from xcb-proto's
# installed XML into build/gen/ and never committed.

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DATADIR   ?= $(PREFIX)/share
DESTDIR   ?=

CC        ?= cc
PYTHON    ?= /usr/bin/python3
PKGS      := glib-2.0 xcb xcb-res xau zlib libpng libxxhash
B         ?= build
BIN       ?= xckpt

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
XCBPROTO   := $(shell pkg-config --variable=xcbincludedir xcb-proto 2>/dev/null)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
             -D_GNU_SOURCE -MMD -MP $(PKG_CFLAGS) -I. -I$(B)/gen
# Where `make deps` records the working criu (read by src/criu.c at run time,
# so deps may run after the build).
CFLAGS    += -DXCKPT_CRIU_PATH_FILE='"$(abspath $(B))/criu.path"'
# Where the daemon finds its data files (the private D-Bus configuration):
# the installed copy, else this source tree's resources/.
CFLAGS    += -DXCKPT_DATADIR='"$(DATADIR)/xckpt"' -DXCKPT_SRCDATADIR='"$(abspath resources)"'
LDLIBS    += $(PKG_LIBS)

XPROXY_SRC := $(wildcard xproxy/*.c)
PTY_SRC    := $(wildcard ptysupport/*.c)
MAIN_SRC   := $(wildcard src/*.c)
UNIT_SRC   := $(wildcard tests/unit/*.c)
GEN_C      := $(B)/gen/proto-tables.c
GEN_H      := $(B)/gen/proto-tables.h

XPROXY_OBJ := $(XPROXY_SRC:%.c=$(B)/%.o) $(B)/gen/proto-tables.o
PTY_OBJ    := $(PTY_SRC:%.c=$(B)/%.o)
MAIN_OBJ   := $(B)/src/xckpt.o
SRCLIB_OBJ := $(filter-out $(MAIN_OBJ),$(MAIN_SRC:%.c=$(B)/%.o))
UNIT_OBJ   := $(UNIT_SRC:%.c=$(B)/%.o)

.PHONY: all deps check unit e2e demo bench install clean
all: $(BIN)

# The generated tables: every object may include them, so they come first.
$(GEN_C) $(GEN_H) &: xproxy/gen-tables.py $(wildcard $(XCBPROTO)/*.xml)
	@mkdir -p $(B)/gen
	$(PYTHON) xproxy/gen-tables.py --xml-dir "$(XCBPROTO)" --out-c $(GEN_C) --out-h $(GEN_H)

$(B)/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libxproxy.a: $(XPROXY_OBJ)
	$(AR) rcs $@ $^
$(B)/libptysupport.a: $(PTY_OBJ)
	$(AR) rcs $@ $^
# Everything of src/ but main(), so that unit tests link it too.
$(B)/libxckpt.a: $(SRCLIB_OBJ)
	$(AR) rcs $@ $^

$(BIN): $(MAIN_OBJ) $(B)/libxckpt.a $(B)/libxproxy.a $(if $(PTY_OBJ),$(B)/libptysupport.a)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(if $(PTY_OBJ),-lvterm)

$(B)/test-unit: $(UNIT_OBJ) $(B)/libxckpt.a $(B)/libxproxy.a $(if $(PTY_OBJ),$(B)/libptysupport.a)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit $(if $(PTY_OBJ),-lvterm)

# deps: install what is missing (Debian packages, a working CRIU).  Quick when
# everything is there.  check and demo run it first.
deps:
	@B=$(B) resources/deps.sh

unit: $(B)/test-unit
	$(B)/test-unit

e2e:
	@$(MAKE) --no-print-directory all $(ZDTM_BIN)
	@B=$(B) XCKPT=$(abspath $(BIN)) tests/run-check.sh tests/e2e/t-*.sh

check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all $(B)/test-unit $(ZDTM_BIN)
	@B=$(B) XCKPT=$(abspath $(BIN)) tests/run-check.sh

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@B=$(B) XCKPT=$(abspath $(BIN)) resources/demo.sh

# The zdtm-style test programs (tests/zdtm/*.c, plain C and libc, one per
# feature) that tests/e2e/t-ckpt*.sh checkpoints and restarts.
ZDTM_BIN := $(patsubst tests/zdtm/%.c,$(B)/zdtm/%,$(wildcard tests/zdtm/*.c))
$(B)/zdtm/%: tests/zdtm/%.c tests/zdtm/zdtm.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -o $@ $<
.PHONY: zdtm
zdtm: $(ZDTM_BIN)

# The benchmark's baseline: a plain byte relay (bench/relay.c).
$(B)/relay: bench/relay.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# The proxy alone, outside any session (tests, benchmarks, debugging).
$(B)/xproxy-standalone: $(B)/tests/xproxy-standalone.o $(B)/libxproxy.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A terminal session outside the daemon and CRIU (tests/pty-standalone.c).
$(B)/pty-standalone: $(B)/tests/pty-standalone.o $(B)/libxckpt.a $(B)/libxproxy.a $(B)/libptysupport.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lvterm

bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all $(B)/relay
	@B=$(B) BIN=$(BIN) bench/run.sh

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/bash-completion/completions
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/xckpt
	install -m 0644 resources/xckpt.1 $(DESTDIR)$(MANDIR)/man1/xckpt.1
	install -m 0644 resources/xckpt.bash-completion $(DESTDIR)$(DATADIR)/bash-completion/completions/xckpt
	install -d $(DESTDIR)$(DATADIR)/xckpt
	install -m 0644 resources/dbus-session.conf $(DESTDIR)$(DATADIR)/xckpt/dbus-session.conf

clean:
	rm -rf $(B) xckpt

-include $(shell find $(B) -path '$(B)/criu*' -prune -o -name '*.d' -type f -print 2>/dev/null)
