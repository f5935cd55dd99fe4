#!/bin/sh
# vm/make.sh OUT - what `make test-vm` boots: OUT/vmlinux, the kernel of
# Debian's linux-image-amd64 uncompressed (qemu boots an ELF kernel through
# PVH in about 2 s; the bzImage takes about 5 s under emulation), and
# OUT/initrd.cpio, a small uncompressed initramfs: static busybox, vm/init,
# and the modules 9p sharing, overlay and bridges need (Debian builds them
# as modules, not into the kernel).  Safe to run again; rebuilt only when
# the kernel or vm/init changed.
set -eu
out=${1:-build/vm}
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

vmlinuz=${WBL_VM_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$vmlinuz" ] || [ ! -r "$vmlinuz" ]; then
  echo "vm/make.sh: no /boot/vmlinuz-*: apt-get install linux-image-amd64" >&2
  exit 1
fi
kver=${vmlinuz#*/vmlinuz-}
mods=/lib/modules/$kver

# 1. The uncompressed kernel: find the compressed payload inside the
#    bzImage by its magic and unpack it (what scripts/extract-vmlinux does).
if [ ! -s "$out/vmlinux" ] || [ "$vmlinuz" -nt "$out/vmlinux" ]; then
  found=
  for fmt in xz zstd gzip; do
    off=$(lua5.4 - "$vmlinuz" "$fmt" <<'LUA'
local magic = { xz = "\xfd7zXZ\0", zstd = "\x28\xb5\x2f\xfd", gzip = "\x1f\x8b\x08\0" }
local f = assert(io.open(arg[1], "rb"))
local s = f:read("a")
f:close()
print(s:find(magic[arg[2]], 1, true) or "")
LUA
)
    [ -n "$off" ] || continue
    case $fmt in
      xz) dec="xz -dc --single-stream" ;;
      zstd) dec="zstd -dcq" ;;
      gzip) dec="gzip -dc" ;;
    esac
    if tail -c +"$off" "$vmlinuz" | $dec > "$out/vmlinux.tmp" 2>/dev/null ||
       [ "$fmt" = gzip ] && [ -s "$out/vmlinux.tmp" ]; then
      if head -c 4 "$out/vmlinux.tmp" | grep -q ELF; then found=$fmt; break; fi
    fi
  done
  if [ -z "$found" ]; then
    rm -f "$out/vmlinux.tmp"
    echo "vm/make.sh: cannot find the compressed kernel inside $vmlinuz" >&2
    exit 1
  fi
  mv "$out/vmlinux.tmp" "$out/vmlinux"
  echo "vm/make.sh: $out/vmlinux from $vmlinuz ($found)"
fi

# 2. The initramfs.  Module order matters: each needs the ones before it.
modules="virtio_pci_legacy_dev virtio_pci_modern_dev virtio_ring virtio virtio_pci
         9pnet 9pnet_virtio netfs fscache 9p overlay veth llc stp bridge"
if [ ! -s "$out/initrd.cpio" ] || [ "$top/vm/init" -nt "$out/initrd.cpio" ] ||
   [ "$vmlinuz" -nt "$out/initrd.cpio" ]; then
  rm -rf "$out/initrd"
  mkdir -p "$out/initrd/bin" "$out/initrd/modules" "$out/initrd/proc" "$out/initrd/sys" \
    "$out/initrd/dev" "$out/initrd/newroot"
  cp /bin/busybox "$out/initrd/bin/busybox"
  cp "$top/vm/init" "$out/initrd/init"
  chmod 755 "$out/initrd/init"
  n=0
  for m in $modules; do
    n=$((n + 1))
    f=$(find "$mods/kernel" -name "$m.ko*" | head -n 1)
    if [ -z "$f" ]; then echo "vm/make.sh: module $m not in $mods" >&2; exit 1; fi
    case $f in
      *.xz) xz -dc "$f" ;;
      *.zst) zstd -dcq "$f" ;;
      *) cat "$f" ;;
    esac > "$out/initrd/modules/$(printf %02d "$n")-$m.ko"
  done
  (cd "$out/initrd" && find . | cpio -o -H newc --quiet) > "$out/initrd.cpio.tmp"
  mv "$out/initrd.cpio.tmp" "$out/initrd.cpio"
  rm -rf "$out/initrd"
  echo "vm/make.sh: $out/initrd.cpio ($kver)"
fi
