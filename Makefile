# wbl - whalebox-lua.
#   make            build build/wbl (the program) and build/lib/wbl/core.so
#   make shell      install deps, build, make the rootfs, run sh in a container
#   make test       install deps, build, make the rootfs, run every spec
PREFIX  ?= /usr/local
CC      ?= cc
PKGS     = lua5.4 libmnl
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -fPIC $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS))

CORE_SRC = core/aux.c core/fd.c core/fs.c core/ipc.c core/inroot.c core/mount.c \
           core/netlink.c core/ns.c core/overlay.c core/proc.c core/wbl.c
CORE_OBJ = $(CORE_SRC:core/%.c=build/obj/%.o)
ROOTFS   = rootfs/busybox
BUSTED   = lua5.4 /usr/bin/busted
# Debian packages the project needs to build, run and test.
DEPS     = build-essential pkg-config lua5.4 liblua5.4-dev libmnl-dev \
           lua-busted lua-check busybox-static iproute2 tmux nftables

all: build/wbl build/lib/wbl/core.so

build/obj/%.o: core/%.c core/wbl.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The program, with the core linked in (and exported for C modules).
build/wbl: build/obj/main.o $(CORE_OBJ)
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $^ $(LDLIBS)

# The same core as a module for plain lua5.4 and busted: cpath build/lib/?.so
build/lib/wbl/core.so: $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(shell pkg-config --libs libmnl)

# Debian packages, installed once (the stamp remembers).
deps: build/.deps
build/.deps:
	@if ! dpkg -s $(DEPS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS); fi
	@mkdir -p build && touch $@

rootfs: $(ROOTFS)/.made
$(ROOTFS)/.made: rootfs/make.sh
	sh rootfs/make.sh $(ROOTFS)

shell: deps all rootfs
	build/wbl scripts/run.lua -ti sh

# Every spec: unprivileged ones, then privileged ones (tagged #priv).
test: deps all rootfs
	sh spec/run.sh

test-unit: all
	sh spec/run.sh --run=unit

# The cgroup and workflow specs again, in a throwaway qemu VM (software
# emulation; Debian's kernel from /boot) on pure cgroup v2: vm/run.sh.
VM_DEPS  = qemu-system-x86 linux-image-amd64 busybox-static cpio xz-utils
test-vm: deps all rootfs
	@if ! dpkg -s $(VM_DEPS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(VM_DEPS); fi
	sh vm/run.sh

check:
	luacheck lua scripts examples spec

# The benchmark (bench/bench.lua says what it measures; BENCH_RUNS=N etc.).
BENCH_DEPS = crun runc bubblewrap util-linux
bench: deps all rootfs
	@if ! dpkg -s $(BENCH_DEPS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEPS); fi
	@mkdir -p build/bench
	$(CC) -O2 -Wall -Wextra -o build/bench/measure bench/measure.c
	$(CC) -O2 -Wall -Wextra -o build/bench/floor bench/floor.c
	build/wbl bench/bench.lua

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/wbl \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/wbl
	install -m 755 build/wbl $(DESTDIR)$(PREFIX)/bin/wbl
	install -m 644 build/lib/wbl/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/wbl/core.so
	cp -r lua scripts $(DESTDIR)$(PREFIX)/share/wbl/

clean:
	rm -rf build

.PHONY: all deps rootfs shell test test-unit test-vm check bench install clean
