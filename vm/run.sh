#!/bin/sh
# vm/run.sh [SPEC...]: boot the test VM (vm/make.sh) under qemu, with
# software emulation (no KVM needed), run the specs in it (default: the
# cgroup and workflow specs) on pure cgroup v2, print the results; the
# last line is the specs' "N passed, N failed, N skipped".
# WBL_VM_TIMEOUT (seconds, default 900) bounds the whole run.
set -u
cd "$(dirname "$0")/.." || exit 1
out=build/vm
sh vm/make.sh "$out" || exit 1
specs=${*:-spec/unit/cgroup_spec.lua spec/priv/cgroup_spec.lua spec/priv/run_spec.lua}
echo "$specs" > "$out/specs"
rm -f "$out/result.txt"
accel=tcg
[ -w /dev/kvm ] && [ -z "${WBL_VM_TCG:-}" ] && accel=kvm
start=$(date +%s)
timeout "${WBL_VM_TIMEOUT:-900}" qemu-system-x86_64 \
  -accel "$accel" -cpu max -smp 2 -m 2048 \
  -kernel "$out/vmlinux" -initrd "$out/initrd.cpio" \
  -append "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init cgroup_no_v1=all" \
  -nodefaults -nographic -no-reboot -serial stdio \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$(pwd),mount_tag=wbl,security_model=none,multidevs=remap" \
  </dev/null
rc=$?
echo "vm: qemu exit $rc after $(( $(date +%s) - start )) s ($accel)"
if [ ! -s "$out/result.txt" ]; then
  echo "vm: no results in $out/result.txt"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
cat "$out/result.txt"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/result.txt" | tail -n 1)
if [ -z "$summary" ]; then
  echo "vm: the spec run stopped before its summary"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
echo "$summary"
failed=$(echo "$summary" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
