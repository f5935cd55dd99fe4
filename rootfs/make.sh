#!/bin/sh
# rootfs/make.sh DIR - make the default root filesystem: Debian's static
# busybox, a link per applet, /etc/passwd and /etc/group, and the mount
# points the container's init uses.  Safe to run again; generated content
# is not committed (see .gitignore).
set -eu
dir=${1:-rootfs/busybox}
bb=${BUSYBOX:-/bin/busybox}
# Debian's busybox-static installs /bin/busybox; the dynamic one cannot run
# in a root with no libc, so insist on the static build.
if ! ldd "$bb" 2>&1 | grep -q 'not a dynamic executable'; then
  echo "rootfs/make.sh: $bb is not static: apt-get install busybox-static" >&2
  exit 1
fi
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
cd "$dir.tmp"
mkdir -p bin sbin usr/bin usr/sbin etc root home tmp var/tmp run proc sys dev
chmod 1777 tmp var/tmp
chmod 700 root
cp "$bb" bin/busybox
for applet in $(./bin/busybox --list-full); do
  case "$applet" in bin/busybox|linuxrc) continue ;; esac
  mkdir -p "$(dirname "$applet")"
  ln -sf /bin/busybox "$applet"
done
cat > etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > etc/group <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
G
echo 'root:*:0:0:99999:7:::' > etc/shadow
chmod 600 etc/shadow
touch etc/hosts etc/hostname etc/resolv.conf
cd - >/dev/null
rm -rf "$dir"
mv "$dir.tmp" "$dir"
touch "$dir/.made"
echo "rootfs: $dir ($(ls "$dir/bin" | wc -l) applets in /bin)"
