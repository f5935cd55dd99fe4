#!/bin/sh
# vm/run.sh [SPEC...]: boot the test VM (vm/make.sh) under qemu, run the
# specs in it (default: the cgroup, workflow and confinement specs) on pure cgroup v2,
# print the results; the last line is the specs' "N passed, N failed,
# N skipped".
#
# The accelerator: KVM when /dev/kvm is writable, else software emulation
# (TCG).  A KVM that is there but cannot run guests (nested virtualisation)
# is not a test failure: a kvm run that fails before the guest wrote any
# results is run again with tcg, and the run says why.  Failing is: qemu
# exits non-zero (not the timeout's 124) -- "failed to set MSR 0x10a ...
# Aborted", exit 134 --; or qemu prints "KVM internal error" (it then stops
# the VM and waits: the run stops it); or no results within
# WBL_VM_KVM_BOOT seconds (the guest writes its first lines a few seconds
# after boot).  A kvm run that wrote results is never run again: its
# failures are the specs' failures.
#
# WBL_VM_TIMEOUT  seconds (default 900) bounding the whole run, retry included
# WBL_VM_KVM_BOOT seconds (default 120) a kvm run may take to write results
# WBL_VM_ACCEL    kvm: try kvm first (with the tcg fallback) even where
#                 /dev/kvm is not writable; tcg: tcg only; unset: see above
# WBL_VM_TCG      non-empty: tcg only, whatever WBL_VM_ACCEL says
# WBL_VM_QEMU     the qemu to run (default qemu-system-x86_64)
# WBL_VM_OUT      the directory of the kernel, initrd, specs list and
#                 result.txt (default build/vm; relative to the repository,
#                 exported as an absolute path).  The real guest always
#                 writes build/vm/result.txt (vm/guest.sh): another
#                 directory is for a fake qemu (spec/unit/vm_spec.lua).
# WBL_VM_SKIP_MAKE  non-empty: do not run vm/make.sh (for a fake qemu)
# qemu's stderr is shown and kept in $WBL_VM_OUT/qemu.err.
set -u
cd "$(dirname "$0")/.." || exit 1
out=${WBL_VM_OUT:-build/vm}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
export WBL_VM_OUT="$out"
qemu=${WBL_VM_QEMU:-qemu-system-x86_64}
if [ -z "${WBL_VM_SKIP_MAKE:-}" ]; then
  sh vm/make.sh "$out" || exit 1
fi
specs=${*:-spec/unit/cgroup_spec.lua spec/priv/cgroup_spec.lua spec/priv/run_spec.lua spec/priv/confine_spec.lua spec/priv/escape_spec.lua spec/priv/caps_spec.lua spec/priv/seccomp_spec.lua spec/priv/devices_spec.lua spec/priv/lifecycle_spec.lua spec/priv/exec_spec.lua}
echo "$specs" > "$out/specs"

# The accelerator to try first, and why.
if [ -n "${WBL_VM_TCG:-}" ]; then
  accel=tcg why="WBL_VM_TCG is set"
else
  case ${WBL_VM_ACCEL:-} in
    kvm) accel=kvm why="WBL_VM_ACCEL=kvm" ;;
    tcg) accel=tcg why="WBL_VM_ACCEL=tcg" ;;
    "")
      if [ -w /dev/kvm ]; then accel=kvm why="/dev/kvm is writable"
      elif [ -e /dev/kvm ]; then accel=tcg why="/dev/kvm is not writable"
      else accel=tcg why="no /dev/kvm"
      fi ;;
    *)
      echo "vm: WBL_VM_ACCEL must be kvm or tcg, not '$WBL_VM_ACCEL'" >&2
      echo "0 passed, 1 failed, 0 skipped"
      exit 1 ;;
  esac
fi
if [ "$accel" = kvm ]; then
  echo "vm: accelerator kvm ($why; tcg if qemu cannot use it)"
else
  echo "vm: accelerator tcg ($why)"
fi

total=${WBL_VM_TIMEOUT:-900}
kvm_boot=${WBL_VM_KVM_BOOT:-120}
begin=$(date +%s)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -f "$out/qemu.fifo"; exit 130' INT TERM HUP

# qemu's stderr, to ours and to qemu.err.  A KVM internal error (emulation
# failure) stops the VM but not qemu: stop qemu, say why in qemu.why.
stderr_reader() {
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s\n' "$line" >&2
    printf '%s\n' "$line" >> "$out/qemu.err"
    case $line in
      "KVM internal error"*)
        if [ "$accel" = kvm ] && [ ! -e "$out/qemu.why" ]; then
          printf '%s\n' "$line" > "$out/qemu.why"
          kill "$pid" 2>/dev/null
        fi ;;
    esac
  done
}

# A kvm run without results after kvm_boot seconds: stop qemu.
kvm_watchdog() {
  i=0
  while [ "$i" -lt "$kvm_boot" ]; do
    sleep 1
    [ -s "$out/result.txt" ] && return 0
    i=$((i + 1))
  done
  [ -e "$out/qemu.why" ] ||
    echo "no results after $kvm_boot s" > "$out/qemu.why"
  kill "$pid" 2>/dev/null
}

# boot ACCEL SECONDS: one qemu run; sets rc (qemu's exit status, 124 on
# timeout) and took (seconds).
boot() {
  accel=$1
  rm -f "$out/result.txt" "$out/qemu.err" "$out/qemu.why" "$out/qemu.fifo"
  mkfifo "$out/qemu.fifo" || exit 1
  start=$(date +%s)
  timeout "$2" "$qemu" \
    -accel "$accel" -cpu max -smp 2 -m 2048 \
    -kernel "$out/vmlinux" -initrd "$out/initrd.cpio" \
    -append "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init cgroup_no_v1=all" \
    -nodefaults -nographic -no-reboot -serial stdio \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$(pwd),mount_tag=wbl,security_model=none,multidevs=remap" \
    </dev/null 2>"$out/qemu.fifo" &
  pid=$!
  stderr_reader < "$out/qemu.fifo" &
  reader=$!
  dog=
  if [ "$accel" = kvm ]; then kvm_watchdog >/dev/null 2>&1 & dog=$!; fi
  wait "$pid"
  rc=$?
  pid=
  [ -z "$dog" ] || kill "$dog" 2>/dev/null
  wait "$reader"
  rm -f "$out/qemu.fifo"
  took=$(( $(date +%s) - start ))
  echo "vm: qemu exit $rc after $took s ($accel)"
}

boot "$accel" "$total"
if [ "$accel" = kvm ] && [ ! -s "$out/result.txt" ] &&
   { [ -e "$out/qemu.why" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; }; }; then
  last=$(grep -v -e '^[[:space:]]*$' -e '^timeout: the monitored command' \
    "$out/qemu.err" 2>/dev/null | tail -n 1)
  if [ -e "$out/qemu.why" ]; then
    echo "vm: kvm failed ($(cat "$out/qemu.why"); qemu stopped, exit $rc after $took s), retrying with tcg"
  else
    echo "vm: kvm failed (qemu exit $rc after $took s: ${last:-no stderr}), retrying with tcg"
  fi
  left=$(( total - ($(date +%s) - begin) ))
  [ "$left" -gt 0 ] || left=1
  boot tcg "$left"
elif [ -e "$out/qemu.why" ]; then
  echo "vm: qemu stopped ($(cat "$out/qemu.why")) after the guest wrote results: not retried"
fi
rm -f "$out/qemu.why"

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
