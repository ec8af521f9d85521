# uniond - build, test, demo. See README.md.
#
#   make          build/uniond and build/unionctl (release, -O2)
#   make deps     install the Debian packages the build needs (if missing)
#   make test     unit + integration + fuzz corpus replay, ASan+UBSan build
#   make demo     a narrated walk-through on a temporary node
#   make bench    benchmarks against plain git / sqlite anchors
#   make valgrind the daemon under valgrind memcheck through every request
#   make fuzz     libFuzzer builds of every decoder (clang), short runs
#   make format   clang-format every source file
#   make pot      po/uniond.pot from the sources (then msgmerge into po/*.po)
#   make install  binaries, manual pages, catalogues, systemd unit, completion
#                 under PREFIX (and DESTDIR); make uninstall removes them

CC      ?= cc
PKGS    := libuv libgit2 msgpack openssl inih zlib libdeflate jansson libutf8proc libsystemd xlsxwriter
DEBS    := pkg-config valgrind libuv1-dev libgit2-dev libmsgpack-dev libssl-dev libinih-dev \
           libcsv-dev libcmocka-dev zlib1g-dev libdeflate-dev uthash-dev libjansson-dev libutf8proc-dev git openssl python3 sqlite3 bc \
           gettext tzdata less bsdutils libsystemd-dev libxlsxwriter-dev iproute2 faketime strace
STD     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -I.
# pkg-config runs only when the packages are there; 'deps' comes first otherwise.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lpthread
CFLAGS  ?= -O2 -g
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Sources are found in every room (sub-folder); the two mains are linked
# only into their programs.
DAEMON_MAIN := $(firstword $(wildcard daemon/main/main.c daemon/main.c))
PROTO_SRC  := $(sort $(shell find proto -name '*.c'))
DAEMON_SRC := $(filter-out $(DAEMON_MAIN),$(sort $(shell find daemon -name '*.c')))
CLI_SRC    := $(filter-out cli/main.c,$(sort $(shell find cli -name '*.c')))
HEADERS    := $(shell find proto daemon cli -name '*.h')
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

B  := build
# V=1 shows the full compiler commands
Q  := $(if $(V),,@)
BT := build/san

.PHONY: all deps test unit integration fuzz-replay demo bench fuzz format clean check-deps valgrind \
        pot install uninstall test-faults test-partition

# unionctl's messages: po/LANG.po compiled for the tree into
# build/locale/LANG/LC_MESSAGES/unionctl.mo (unionctl finds it beside
# itself), installed into LOCALEDIR.
PREFIX    ?= /usr/local
LOCALEDIR ?= $(PREFIX)/share/locale
PO_FILES  := $(wildcard po/*.po)
MO_FILES  := $(patsubst po/%.po,$(B)/locale/%/LC_MESSAGES/unionctl.mo,$(PO_FILES))
$(B)/obj/cli/i18n.o $(BT)/obj/cli/i18n.o: STD += -DLOCALEDIR='"$(LOCALEDIR)"'

all: check-deps $(B)/uniond $(B)/unionctl $(B)/genmembers $(MO_FILES)

$(B)/locale/%/LC_MESSAGES/unionctl.mo: po/%.po
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  MSGFMT  $<',true)
	$(Q)msgfmt --check -o $@ $<

# The daemon's message formats go into the catalogue too, and into the
# table cli/dmsgs.c unionctl matches its messages against (tools/dmsgs.py).
pot:
	@mkdir -p $(B)
	tools/dmsgs.py $(B)/daemon.pot cli/dmsgs.c
	xgettext --from-code=UTF-8 --language=C --keyword=_ --keyword=N_ --keyword=C_:1c,2 \
	  --keyword=NC_:1c,2 --add-comments=TRANSLATORS: --package-name=uniond \
	  --msgid-bugs-address= -o $(B)/cli.pot $(sort $(shell find cli -name '*.c'))
	msgcat --use-first -o po/uniond.pot $(B)/cli.pot $(B)/daemon.pot

# Where `make install` puts the systemd files and the completion; systemd
# reads /usr/lib and /usr/local/lib alike.
SBINDIR        ?= $(PREFIX)/sbin
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
UNITDIR        ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR    ?= $(PREFIX)/lib/tmpfiles.d
COMPLETIONDIR  ?= $(PREFIX)/share/bash-completion/completions
EXAMPLEDIR     ?= $(PREFIX)/share/doc/uniond/examples
INSTALLED := $(BINDIR)/unionctl $(SBINDIR)/uniond $(MANDIR)/man1/unionctl.1 \
             $(MANDIR)/man8/uniond.8 $(UNITDIR)/uniond.service $(SYSUSERSDIR)/uniond.conf \
             $(TMPFILESDIR)/uniond.conf $(COMPLETIONDIR)/unionctl \
             $(EXAMPLEDIR)/uniond.conf.example \
             $(patsubst po/%.po,$(LOCALEDIR)/%/LC_MESSAGES/unionctl.mo,$(PO_FILES))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(EXAMPLEDIR)
	install -m 755 $(B)/unionctl $(DESTDIR)$(BINDIR)/unionctl
	install -m 755 $(B)/uniond $(DESTDIR)$(SBINDIR)/uniond
	install -m 644 docs/unionctl.1 $(DESTDIR)$(MANDIR)/man1/unionctl.1
	install -m 644 docs/uniond.8 $(DESTDIR)$(MANDIR)/man8/uniond.8
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/uniond.service.in > $(B)/uniond.service
	install -m 644 $(B)/uniond.service $(DESTDIR)$(UNITDIR)/uniond.service
	install -m 644 dist/uniond.sysusers $(DESTDIR)$(SYSUSERSDIR)/uniond.conf
	install -m 644 dist/uniond.tmpfiles $(DESTDIR)$(TMPFILESDIR)/uniond.conf
	install -m 644 dist/unionctl.bash $(DESTDIR)$(COMPLETIONDIR)/unionctl
	install -m 644 dist/uniond.conf.example $(DESTDIR)$(EXAMPLEDIR)/uniond.conf.example
	for po in $(PO_FILES); do l=$$(basename $$po .po); \
	  install -d $(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES; \
	  install -m 644 $(B)/locale/$$l/LC_MESSAGES/unionctl.mo $(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES/; \
	done
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  systemd-sysusers $(SYSUSERSDIR)/uniond.conf 2>/dev/null || \
	    getent group uniond >/dev/null || adduser --system --group --home /var/lib/uniond --no-create-home uniond; \
	  systemd-tmpfiles --create $(TMPFILESDIR)/uniond.conf 2>/dev/null || true; \
	  systemctl daemon-reload 2>/dev/null || true; \
	  echo "next: sudo -u uniond uniond init --office CODE; sudo systemctl enable --now uniond"; \
	fi

# Removes what install put there; DATA (/var/lib/uniond), the user and the
# group are left alone: they hold the office's records.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(EXAMPLEDIR) 2>/dev/null

$(B)/genmembers: tests/tools/genmembers.c
	@mkdir -p $(B)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror $< -o $@

# the loopback fault proxy of tests/faults/partition.sh (no namespaces)
$(B)/faultproxy: tests/tools/faultproxy.c
	@mkdir -p $(B)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror $< -o $@

# Install what is missing, once; a machine that has everything is not touched.
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

check-deps:
	@pkg-config --exists $(PKGS) cmocka 2>/dev/null && [ -f /usr/include/csv.h ] && [ -f /usr/include/uthash.h ] || $(MAKE) --no-print-directory deps

# release objects
$(B)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<',true)
	$(Q)$(CC) $(STD) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@
# sanitizer objects
$(BT)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC san  $<',true)
	$(Q)$(CC) $(STD) $(SAN) $(PKG_CFLAGS) -c $< -o $@

obj  = $(patsubst %.c,$(1)/obj/%.o,$(2))

$(B)/uniond: $(call obj,$(B),$(DAEMON_MAIN) $(DAEMON_SRC) $(PROTO_SRC))
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(PKG_LIBS)
# unionctl starts once per command (a clerk's script runs one per record),
# so its start-up is part of every add: the libraries it needs are linked
# statically where Debian ships an archive (libcrypto.so's load and
# initialisation alone was ~1 ms of the 1.7 ms `unionctl --version`),
# libxlsxwriter is loaded only when a workbook is written (cli/xlsx.c), and
# nothing of the daemon's (libgit2, libuv, libssl) is linked. It is linked
# without PIE: with the archives in, a PIE unionctl applies ~18,000
# relative relocations (libcrypto's tables) at every start, 0.2 ms and 95
# page faults of its 0.75 ms; the daemon stays PIE.
CLI_ARCHIVES := msgpackc utf8proc csv crypto z
CLI_STATIC = $(foreach l,$(CLI_ARCHIVES),$(if $(filter /%,$(shell $(CC) -print-file-name=lib$(l).a)),$(shell $(CC) -print-file-name=lib$(l).a),-l$(l)))
CLI_LIBS = $(CLI_STATIC) -ljansson -lpthread -ldl
XLSX_SONAME := $(or $(shell objdump -p $$($(CC) -print-file-name=libxlsxwriter.so) 2>/dev/null | awk '/SONAME/ {print $$2}'),libxlsxwriter.so.4)
$(B)/obj/cli/xlsx.o $(BT)/obj/cli/xlsx.o: STD += -DXLSX_SONAME='"$(XLSX_SONAME)"'
$(B)/unionctl: $(call obj,$(B),cli/main.c $(CLI_SRC) $(PROTO_SRC))
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(CFLAGS) -no-pie $^ -o $@ $(CLI_LIBS)
$(BT)/uniond: $(call obj,$(BT),$(DAEMON_MAIN) $(DAEMON_SRC) $(PROTO_SRC))
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(SAN) $^ -o $@ $(PKG_LIBS)
$(BT)/unionctl: $(call obj,$(BT),cli/main.c $(CLI_SRC) $(PROTO_SRC))
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(SAN) $^ -o $@ $(PKG_LIBS)

# Unit tests: each tests/unit/test_X.c is one cmocka program linked with every
# module except the two mains.
$(BT)/unit/%: tests/unit/%.c tests/unit/unit_sh.h $(call obj,$(BT),$(PROTO_SRC) $(DAEMON_SRC) $(CLI_SRC))
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(STD) $(SAN) $(PKG_CFLAGS) $(filter-out %.h,$^) -o $@ $(PKG_LIBS) -lcmocka

# Fuzz targets, replay build: the same LLVMFuzzerTestOneInput linked with a
# small driver that runs each corpus file once (no clang needed).
$(BT)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(call obj,$(BT),$(PROTO_SRC) $(DAEMON_SRC) $(CLI_SRC))
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(STD) $(SAN) $(PKG_CFLAGS) $^ -o $@ $(PKG_LIBS)

UNIT_BINS := $(patsubst tests/unit/%.c,$(BT)/unit/%,$(UNIT_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BT)/fuzz/%,$(FUZZ_SRC))

test: check-deps $(BT)/uniond $(BT)/unionctl $(B)/uniond $(B)/unionctl $(B)/genmembers $(B)/faultproxy $(MO_FILES) \
      $(UNIT_BINS) $(FUZZ_BINS)
	@tests/run.sh $(BT)

# The long fault run (docs/RELIABILITY.md): the seeded SIGKILL loop,
# FAULT_KILLS kills for each of FAULT_SEEDS, then the five-node partition
# test for each of PART_SEEDS (PART_CHAOS_S seconds of faults each), on
# the sanitizer build. `make test-partition` runs only the latter.
FAULT_KILLS ?= 200
FAULT_SEEDS ?= 1 2
PART_SEEDS ?= $(shell seq 1 50)
PART_CHAOS_S ?= 20
test-faults: check-deps $(BT)/uniond $(BT)/unionctl $(B)/faultproxy
	@fail=0; for s in $(FAULT_SEEDS); do \
	  UNIOND_BIN=$(CURDIR)/$(BT)/uniond UNIONCTL_BIN=$(CURDIR)/$(BT)/unionctl \
	    FAULT_SEED=$$s FAULT_KILLS=$(FAULT_KILLS) bash tests/faults/killloop.sh || fail=1; \
	done; $(MAKE) --no-print-directory test-partition || fail=1; exit $$fail
test-partition: check-deps $(BT)/uniond $(BT)/unionctl $(B)/faultproxy
	@UNIOND_BIN=$(CURDIR)/$(BT)/uniond UNIONCTL_BIN=$(CURDIR)/$(BT)/unionctl \
	  PART_CHAOS_S=$(PART_CHAOS_S) bash tests/faults/partition_runs.sh $(PART_SEEDS)

demo: all
	@scripts/demo.sh $(B)

bench: all
	@tests/bench/run.sh $(B)

valgrind: all
	@tests/valgrind.sh $(B)

# Coverage-guided fuzzing with libFuzzer (needs clang); FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
fuzz:
	@tests/fuzz/run-libfuzzer.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)
