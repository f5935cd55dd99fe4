# wbl - whalebox-lua.
#   make            build build/wbl (the program) and build/lib/wbl/core.so
#   make shell      install deps, build, make the rootfs, run sh in a container
#   make test       install deps, build, make the rootfs, check the package
#                   lists (make check-deps), run every spec
PREFIX  ?= /usr/local
CC      ?= cc
PKGS     = lua5.4 libmnl libseccomp
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -fPIC $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS))

# Every core file but the program's own (main, its chunk cache): a new
# family is its file plus one line in WBL_FAMILIES (core/wbl.h).
HOST_SRC = core/main.c core/chunkcache.c
CORE_SRC = $(filter-out $(HOST_SRC),$(sort $(wildcard core/*.c)))
CORE_OBJ = $(CORE_SRC:core/%.c=build/obj/%.o)
HOST_OBJ = $(HOST_SRC:core/%.c=build/obj/%.o)
ROOTFS   = rootfs/busybox
BUSTED   = lua5.4 /usr/bin/busted
# Debian packages the project needs to build, run and test (make deps; make
# test and make shell use them).  Every program the code runs on the host
# comes from one of these lists, or their dependencies, or an Essential
# package: tools/check-deps.lua finds the calls and says which is missing.
#   build: build-essential pkg-config lua5.4 liblua5.4-dev libmnl-dev
#          libseccomp-dev; run: lua-dkjson (seccomp profiles, image configs
#          in JSON), zstd (image layers compressed with it)
#   specs: lua-busted lua-check busybox-static (rootfs/make.sh); tmux (tty);
#          iproute2 (ip), nftables (nft), iptables (WBL_NAT=iptables, its
#          spec), curl (published ports, from the host); podman (with conmon
#          and netavark: podman_spec drives wbl-oci through it), crun (the
#          reference of oci_conformance_spec); run: procps (wbl-oci ps)
DEPS     = build-essential busybox-static curl iproute2 iptables libmnl-dev \
           libseccomp-dev liblua5.4-dev lua-busted lua-check lua-dkjson \
           crun lua5.4 nftables pkg-config podman procps tmux zstd

all: build/wbl build/lib/wbl/core.so build/wbl-init build/wbl-oci

# The OCI runtime command (podman --runtime build/wbl-oci): wbl called by
# that name is `wbl oci` (scripts/oci.lua).
build/wbl-oci: build/wbl
	ln -sf wbl $@

# --init's PID 1 (init/wbl-init.c): static, so it runs in any image.
build/wbl-init: init/wbl-init.c
	@mkdir -p $(@D)
	$(CC) -static -Os -std=gnu11 -Wall -Wextra -Werror -o $@ $<

build/obj/%.o: core/%.c core/wbl.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(HOST_OBJ): core/chunkcache.h

# The program, with the core linked in (and exported for C modules).
# Lua (all of it: C modules may call any of its API) and libseccomp are
# linked statically: fewer libraries to map and relocate at every start
# (about 0.1 ms of a start, and a smaller fork; make bench).  -z now: the
# dynamic symbols are bound once, at start, before the container's process
# is forked, not on first call in each process (lazy binding writes the GOT:
# a copy-on-write fault in the child); and the GOT is then read-only.
STATIC_LIBS = -Wl,-Bstatic -Wl,--whole-archive -llua5.4 -Wl,--no-whole-archive -lseccomp -Wl,-Bdynamic
build/wbl: $(HOST_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -Wl,-z,now -Wl,-E -o $@ $^ $(STATIC_LIBS) $(shell pkg-config --libs libmnl) -lm -ldl

# The same core as a module for plain lua5.4 and busted: cpath build/lib/?.so
build/lib/wbl/core.so: $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(shell pkg-config --libs libmnl libseccomp)

# Debian packages, installed once (the stamp remembers; a changed Makefile
# may list more).
deps: build/.deps
build/.deps: Makefile
	@if ! dpkg -s $(DEPS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS); fi
	@mkdir -p build && touch $@

rootfs: $(ROOTFS)/.made
$(ROOTFS)/.made: rootfs/make.sh
	sh rootfs/make.sh $(ROOTFS)

shell: deps all rootfs
	build/wbl scripts/run.lua -ti sh

# Every spec: unprivileged ones, then privileged ones (tagged #priv).
test: deps all rootfs check-deps
	sh spec/run.sh

test-unit: all
	sh spec/run.sh --run=unit

# The cgroup and workflow specs again, in a throwaway qemu VM (software
# emulation; Debian's kernel from /boot) on pure cgroup v2: vm/run.sh.
# VM_DEPS: qemu; the kernel it boots; busybox for the initramfs; cpio to
# pack it; xz-utils and zstd to unpack the kernel and its modules (vm/make.sh
# tries xz, zstd, gzip); mount for vm/guest.sh (the host's, in the guest).
VM_DEPS  = busybox-static cpio linux-image-amd64 mount qemu-system-x86 \
           xz-utils zstd
vm-deps: deps
	@if ! dpkg -s $(VM_DEPS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(VM_DEPS); fi

test-vm: vm-deps all rootfs check-deps
	sh vm/run.sh

check:
	luacheck lua scripts examples spec tools

# Every program the code runs is installed by a step above (Essential
# packages aside); run again after a step's packages are installed.
check-deps:
	lua5.4 tools/check-deps.lua

# The package lists, one per line, for tools/check-deps.lua.
print-deps:
	@echo "DEPS=$(DEPS)"
	@echo "VM_DEPS=$(VM_DEPS)"
	@echo "BENCH_DEPS=$(BENCH_DEPS)"

# The benchmark (bench/bench.lua says what it measures; BENCH_RUNS=N etc.).
# BENCH_DEPS: the runtimes it compares (crun, runc, bwrap, unshare).
BENCH_DEPS = bubblewrap crun runc util-linux
bench-deps: deps
	@if ! dpkg -s $(BENCH_DEPS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEPS); fi

bench: bench-deps all rootfs check-deps
	@mkdir -p build/bench
	$(CC) -O2 -Wall -Wextra -o build/bench/measure bench/measure.c
	$(CC) -O2 -Wall -Wextra -o build/bench/floor bench/floor.c
	WBL_CACHE= build/wbl bench/bench.lua

# make install [PREFIX=/usr/local] [DESTDIR=]: the program (and wbl-oci),
# wbl-init, the core module, the library and scripts (PREFIX/share/wbl),
# and the default root made there (PREFIX/share/wbl/rootfs/busybox, where
# wbl.config.default_rootfs looks), so `wbl run sh` works from anywhere.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/wbl \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/wbl $(DESTDIR)$(PREFIX)/libexec/wbl
	install -m 755 build/wbl $(DESTDIR)$(PREFIX)/bin/wbl
	ln -sf wbl $(DESTDIR)$(PREFIX)/bin/wbl-oci
	install -m 755 build/wbl-init $(DESTDIR)$(PREFIX)/libexec/wbl/wbl-init
	install -m 644 build/lib/wbl/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/wbl/core.so
	cp -r lua scripts $(DESTDIR)$(PREFIX)/share/wbl/
	sh rootfs/make.sh $(DESTDIR)$(PREFIX)/share/wbl/rootfs/busybox

clean:
	rm -rf build

.PHONY: all deps vm-deps bench-deps rootfs shell test test-unit test-vm check check-deps \
        print-deps bench install clean
