#!/bin/sh
# vm/guest.sh: the test VM after switch_root (PID 1, a tmpfs root, the
# host's /usr and /etc read-only, the project at /share).  Mounts cgroup2
# alone at /sys/fs/cgroup with every controller (no v1: the kernel runs
# with cgroup_no_v1=all), copies the project to the tmpfs (9p cannot hold
# device nodes, fifos or sockets, nor be an overlay layer), runs the specs
# given in /share/build/vm/specs and writes their output to
# /share/build/vm/result.txt (the serial console is slow), then powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=755 run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname wbl-vm
ip link set lo up 2>/dev/null

res=/share/build/vm
out=$res/result.txt
{
  echo "vm: kernel $(uname -r), $(nproc) cpus, uptime $(cut -d' ' -f1 /proc/uptime) s"
  echo "vm: cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
  echo "vm: cgroup v1 mounts: $(grep -c ' - cgroup ' /proc/self/mountinfo)"
} > "$out"
cat "$out"

# The project, on the tmpfs.
mkdir -p /wbl/build /wbl/rootfs
for d in lua scripts spec examples .busted build/wbl build/wbl-oci build/wbl-init build/lib; do
  [ -e "/share/$d" ] && cp -a "/share/$d" "/wbl/$d"
done
cp -a /share/rootfs/busybox /wbl/rootfs/busybox
cd /wbl || exit 1
specs=$(cat "$res/specs" 2>/dev/null)
echo "vm: specs: $specs"
start=$(cut -d' ' -f1 /proc/uptime)
sh spec/run.sh $specs >> "$out" 2>&1
echo "vm: exit $? after $(cut -d' ' -f1 /proc/uptime) s (specs started at $start s)" >> "$out"
tail -n 2 "$out"
sync
# busybox's (the host's busybox-static, in VM_DEPS): /usr/sbin/poweroff is
# systemd-sysv's, which a host need not have.  -f: no init to ask.
busybox poweroff -f
