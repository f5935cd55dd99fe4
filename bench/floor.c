/*
 * floor.c - the kernel's floor for starting a container: only the system
 * calls, no policy, no checks beyond failing loudly.
 *
 *   floor [-o TMPDIR] [-e ETCDIR] [-l LOWER]... [-m BYTES] [-f] [-d RULE]...
 *         [-M PATH]... [-R PATH]... [-c CAPS] [-s BPFFILE] [-n] ROOT PROG [ARG...]
 *
 * Always: clone into new mount, UTS, IPC, PID, network and cgroup
 * namespaces (with cgroups: the cgroup one unshared by the child once it
 * is in them, so they are its root); / made private; ROOT bound onto
 * itself (or, with -o, an overlay of the -l layers, top first, over ROOT,
 * with an upper and work dir made under TMPDIR and removed after); /proc;
 * pivot_root; exec PROG; wait.  Exit status: PROG's (128+N if killed by
 * signal N), 125 on failure.
 *   -m BYTES  a v1 memory cgroup (memory/wbl-bench-floor-PID) made, limited
 *             (limit_in_bytes, and memsw twice that where it exists), joined
 *             by the child first thing (0 written to its tasks: one thread
 *             moving itself, as wbl's PID 1 does, takes no global lock),
 *             removed after.
 *   -f        the rest of what wbl's init.lua mounts and sets: with -o,
 *             /etc/hosts, hostname and resolv.conf written on the host (in
 *             the upper's directory, or with -e in ETCDIR/floor-PID, made
 *             and removed after: where a runtime keeps its state, as wbl
 *             keeps them in the container's state directory) and bound in; a read-only /sys; with
 *             cgroups (-m, -d), a /sys/fs/cgroup tmpfs with each of them
 *             mounted (v1, read-only); a /dev tmpfs with null zero full
 *             random urandom tty, devpts, /dev/shm and the fd links; a /tmp
 *             tmpfs; the hostname, lo up, stdin from /dev/null.
 * The hardening of wbl's default container (docker's), each step only
 * when its option is given:
 *   -d RULE   a v1 devices cgroup (devices/wbl-bench-floor-PID) made, RULE
 *             written ("deny a": devices.deny, "allow c 1:3 rwm":
 *             devices.allow), in the order given; joined by the child as
 *             the memory one is, removed after.
 *   -M PATH   masked (after the mounts): /dev/null bound over a file, an
 *             empty read-only tmpfs over a directory; missing: skipped.
 *   -R PATH   read-only: bound onto itself (recursively), remounted
 *             ro,nosuid,nodev,noexec; missing: skipped.
 *   -c CAPS   CAPS: capability numbers kept, "0,1,3,..."; after pivot_root
 *             (and the hostname, lo, stdin) the others dropped from the
 *             bounding set, then (after -s, as wbl does without
 *             no_new_privs) no groups, gid and uid 0, capset: permitted =
 *             effective = CAPS, inheritable none; the ambient set cleared.
 *   -s FILE   a seccomp filter loaded (seccomp(SECCOMP_SET_MODE_FILTER)),
 *             FILE the classic BPF program (struct sock_filter[], as
 *             bench.lua writes it: wbl.seccomp.compile), read on the host before the clone.
 *             Without -n while CAP_SYS_ADMIN is still there, right after
 *             the bounding set; with -n after no_new_privs, last.
 *   -n        no_new_privs, after the capabilities.
 * With WBL_TRACE=FILE every step leaves a mark, named as wbl's step of the
 * same work is, so bench.lua can set them side by side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXLOWER 128
#define MAXLIST 64
#define CGROOT "/sys/fs/cgroup"

static const char *root, *tmpdir, *etcroot, *lowers[MAXLOWER];
static char etcdir[4096];
static const char *rules[MAXLIST], *masked[MAXLIST], *readonly[MAXLIST];
static int nlower, full, nrules, nmasked, nreadonly, nnp, last_cap;
static long long mem;
static char **cmd;
static char layer[4096], upper[4200], work[4200], merged[4200];
static char memcg[256], devcg[256]; /* the cgroups made ("" when not) */
static int tfd = -1;
static int have_caps;
static unsigned long long keep_caps; /* bit n: capability n kept */
static struct sock_fprog filter;   /* -s: .filter NULL when not */

/* WBL_TRACE=FILE: the same marks as wbl's (pid, CLOCK_MONOTONIC ns, label). */
static void mark(const char *label)
{
  if (tfd < 0)
    return;
  struct timespec ts;
  char buf[256];
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int n = snprintf(buf, sizeof buf, "%d\t%lld\t%s\n", (int)getpid(),
                   (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, label);
  if (write(tfd, buf, n) < 0)
    tfd = -1;
}

static void fail(const char *what)
{
  fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
  _exit(125);
}

static void wfile(const char *path, const char *value)
{
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, value, strlen(value)) < 0)
    fail(path);
  close(fd);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long fl,
                const char *data)
{
  if (mount(src, dst, type, fl, data) < 0)
    fail(dst);
}

static void load_filter(void)
{
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter) < 0)
    fail("seccomp");
  mark("seccomp");
}

/* The whole of a small regular file (the BPF program), or fail. */
static char *slurp(const char *file, size_t *len)
{
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    fail(file);
  char *buf = malloc(st.st_size + 1);
  if (!buf || read(fd, buf, st.st_size) != st.st_size)
    fail(file);
  close(fd);
  buf[st.st_size] = 0;
  *len = st.st_size;
  return buf;
}

/* A cgroup of this floor in one v1 hierarchy: made, into dir. */
static void make_cgroup(char *dir, size_t size, const char *hierarchy)
{
  snprintf(dir, size, CGROOT "/%s/wbl-bench-floor-%d", hierarchy, (int)getpid());
  if (mkdir(dir, 0755) < 0)
    fail(dir);
}

static void cgroup_write(const char *dir, const char *file, const char *value)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  wfile(path, value);
}

static int child(void *arg)
{
  (void)arg;
  char path[8192];
  const char *r = root;
  mark("started");
  if (mem || nrules) {
    /* Into its cgroups itself, one thread moving itself: no global lock
     * (a cgroup.procs write from the parent takes cgroup_threadgroup_rwsem
     * and may wait for an RCU grace period); then they are its root. */
    if (*memcg)
      cgroup_write(memcg, "tasks", "0");
    if (*devcg)
      cgroup_write(devcg, "tasks", "0");
    mark("join cgroups");
    if (unshare(CLONE_NEWCGROUP) < 0)
      fail("unshare(CLONE_NEWCGROUP)");
    mark("cgroup namespace");
  }
  mnt(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  mark("make mounts private");
  if (tmpdir) {
    int n = snprintf(path, sizeof path, "lowerdir=");
    for (int i = 0; i < nlower; i++)
      n += snprintf(path + n, sizeof path - n, "%s:", lowers[i]);
    snprintf(path + n, sizeof path - n, "%s,upperdir=%s,workdir=%s", root, upper, work);
    mnt("overlay", merged, "overlay", 0, path);
    r = merged;
    mark("mount the overlay root");
  } else {
    mnt(root, root, NULL, MS_BIND | MS_REC, NULL);
    mark("bind the root");
  }
  if (full && tmpdir) {
    static const char *etc[] = {"hosts", "hostname", "resolv.conf"};
    for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++) {
      char src[4400];
      snprintf(src, sizeof src, "%s/%s", etcdir, etc[i]);
      snprintf(path, sizeof path, "%s/etc/%s", r, etc[i]);
      mnt(src, path, NULL, MS_BIND, NULL);
    }
    mark("/etc/hosts, hostname, resolv.conf");
  }
  snprintf(path, sizeof path, "%s/proc", r);
  mnt("proc", path, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
  mark("mount /proc");
  if (full) {
    snprintf(path, sizeof path, "%s/sys", r);
    mnt("sysfs", path, "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
    mark("mount /sys");
    if (*memcg || *devcg) {
      const unsigned long ro = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;
      snprintf(path, sizeof path, "%s/sys/fs/cgroup", r);
      mnt("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k");
      const char *ctl[] = {*memcg ? "memory" : NULL, *devcg ? "devices" : NULL};
      for (int i = 0; i < 2; i++) {
        if (!ctl[i])
          continue;
        snprintf(path, sizeof path, "%s/sys/fs/cgroup/%s", r, ctl[i]);
        if (mkdir(path, 0755) < 0)
          fail(path);
        mnt("cgroup", path, "cgroup", ro, ctl[i]);
      }
      snprintf(path, sizeof path, "%s/sys/fs/cgroup", r);
      mnt(NULL, path, NULL, MS_REMOUNT | MS_BIND | ro, NULL);
      mark("mount /sys/fs/cgroup");
    }
    snprintf(path, sizeof path, "%s/dev", r);
    mnt("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
    mark("mount /dev");
    snprintf(path, sizeof path, "%s/dev/pts", r);
    if (mkdir(path, 0755) < 0)
      fail(path);
    mnt("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
    mark("mount /dev/pts");
    snprintf(path, sizeof path, "%s/dev/shm", r);
    if (mkdir(path, 01777) < 0)
      fail(path);
    mnt("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    mark("mount /dev/shm");
    snprintf(path, sizeof path, "%s/tmp", r);
    mnt("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mark("mount /tmp");
    static const struct { const char *n; int ma, mi; } devs[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    mode_t old = umask(0);
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
      snprintf(path, sizeof path, "%s/dev/%s", r, devs[i].n);
      if (mknod(path, S_IFCHR | 0666, makedev(devs[i].ma, devs[i].mi)) < 0)
        fail(path);
    }
    umask(old);
    static const char *links[][2] = {{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"},
        {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
      snprintf(path, sizeof path, "%s/dev/%s", r, links[i][0]);
      if (symlink(links[i][1], path) < 0)
        fail(path);
    }
    mark("devices");
  }
  for (int i = 0; i < nmasked; i++) {
    struct stat st;
    snprintf(path, sizeof path, "%s%s", r, masked[i]);
    if (stat(path, &st) < 0) {
      if (errno == ENOENT)
        continue;
      fail(path);
    }
    if (S_ISDIR(st.st_mode))
      mnt("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555");
    else
      mnt("/dev/null", path, NULL, MS_BIND, NULL);
  }
  if (nmasked)
    mark("masked paths");
  for (int i = 0; i < nreadonly; i++) {
    snprintf(path, sizeof path, "%s%s", r, readonly[i]);
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
      if (errno == ENOENT)
        continue;
      fail(path);
    }
    mnt(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  }
  if (nreadonly)
    mark("read-only paths");
  if (chdir(r) < 0)
    fail(r);
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    fail("pivot_root");
  if (umount2(".", MNT_DETACH) < 0)
    fail("umount old root");
  if (chdir("/") < 0)
    fail("chdir /");
  mark("pivot_root");
  if (full) {
    if (sethostname("floor", 5) < 0)
      fail("sethostname");
    mark("hostname");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
      fail("lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
      fail("lo up");
    close(s);
    mark("loopback");
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0)
      fail("/dev/null");
    close(null);
    mark("stdin");
  }
  if (have_caps) {
    for (int c = 0; c <= last_cap; c++)
      if (!(keep_caps >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
        fail("PR_CAPBSET_DROP");
    mark("capability bounding set");
  }
  if (filter.filter && !nnp)
    load_filter();
  if (have_caps) {
    if (setgroups(0, NULL) < 0 || setgid(0) < 0 || setuid(0) < 0)
      fail("setgroups, setgid, setuid");
    mark("user 0:0");
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    d[0].permitted = d[0].effective = (unsigned)keep_caps;
    d[1].permitted = d[1].effective = (unsigned)(keep_caps >> 32);
    if (syscall(SYS_capset, &h, d) < 0)
      fail("capset");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
      fail("PR_CAP_AMBIENT_CLEAR_ALL");
    mark("capabilities");
  }
  if (nnp) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
      fail("no_new_privs");
    mark("no_new_privs");
    if (filter.filter)
      load_filter();
  }
  execv(cmd[0], cmd);
  fail(cmd[0]);
  return 125;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st, (void)ftw;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void usage(void)
{
  fprintf(stderr, "usage: floor [-o TMPDIR] [-e ETCDIR] [-l LOWER]... [-m BYTES] [-f] [-d RULE]...\n"
                  "             [-M PATH]... [-R PATH]... [-c CAPS] [-s BPFFILE] [-n] ROOT PROG [ARG...]\n");
  exit(125);
}

static void add(const char **list, int *n, const char *v)
{
  if (*n == MAXLIST)
    usage();
  list[(*n)++] = v;
}

int main(int argc, char **argv)
{
  int opt;
  const char *bpf = NULL;
  while ((opt = getopt(argc, argv, "+o:e:l:m:fd:M:R:c:s:n")) != -1) {
    switch (opt) {
    case 'o': tmpdir = optarg; break;
    case 'e': etcroot = optarg; break;
    case 'l':
      if (nlower == MAXLOWER)
        usage();
      lowers[nlower++] = optarg;
      break;
    case 'm': mem = atoll(optarg); break;
    case 'f': full = 1; break;
    case 'd': add(rules, &nrules, optarg); break;
    case 'M': add(masked, &nmasked, optarg); break;
    case 'R': add(readonly, &nreadonly, optarg); break;
    case 'c':
      have_caps = 1;
      for (char *p = optarg; *p;) {
        char *end;
        long c = strtol(p, &end, 10);
        if (end == p || c < 0 || c > 63)
          usage();
        keep_caps |= 1ULL << c;
        p = *end == ',' ? end + 1 : end;
      }
      break;
    case 's': bpf = optarg; break;
    case 'n': nnp = 1; break;
    default: usage();
    }
  }
  if (argc - optind < 2)
    usage();
  root = argv[optind];
  cmd = argv + optind + 1;
  if (getenv("WBL_TRACE"))
    tfd = open(getenv("WBL_TRACE"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  mark("floor started");
  if (have_caps) {
    char v[16] = {0};
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, v, sizeof v - 1) <= 0 || (last_cap = atoi(v)) <= 0)
      fail("/proc/sys/kernel/cap_last_cap");
    close(fd);
  }
  if (bpf) {
    size_t len;
    filter.filter = (struct sock_filter *)slurp(bpf, &len);
    filter.len = len / sizeof(struct sock_filter);
    if (len == 0 || len % sizeof(struct sock_filter) || filter.len > BPF_MAXINSNS) {
      fprintf(stderr, "floor: %s: not a BPF program\n", bpf);
      return 125;
    }
    mark("seccomp profile");
  }
  if (tmpdir) {
    snprintf(layer, sizeof layer, "%s/floor-%d", tmpdir, (int)getpid());
    snprintf(upper, sizeof upper, "%s/upper", layer);
    snprintf(work, sizeof work, "%s/work", layer);
    snprintf(merged, sizeof merged, "%s/root", layer);
    if (mkdir(layer, 0700) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0 ||
        mkdir(merged, 0755) < 0)
      fail(layer);
    mark("layer");
    if (full) {
      snprintf(etcdir, sizeof etcdir, "%s", layer);
      if (etcroot) {
        snprintf(etcdir, sizeof etcdir, "%s/floor-%d", etcroot, (int)getpid());
        if (mkdir(etcdir, 0700) < 0)
          fail(etcdir);
      }
      static const char *etc[][2] = {{"hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
                                     {"hostname", "floor\n"}, {"resolv.conf", ""}};
      for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", etcdir, etc[i][0]);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, etc[i][1], strlen(etc[i][1])) < 0 || close(fd) < 0)
          fail(path);
      }
      mark("/etc files");
    }
  }
  if (mem) {
    char val[64];
    make_cgroup(memcg, sizeof memcg, "memory");
    snprintf(val, sizeof val, "%lld", mem);
    cgroup_write(memcg, "memory.limit_in_bytes", val);
    char path[512];
    snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", memcg);
    snprintf(val, sizeof val, "%lld", 2 * mem);
    if (access(path, F_OK) == 0)
      wfile(path, val);
    mark("cgroup");
  }
  if (nrules) {
    make_cgroup(devcg, sizeof devcg, "devices");
    for (int i = 0; i < nrules; i++) {
      const char *sp = strchr(rules[i], ' ');
      if (!sp || !((sp - rules[i] == 5 && strncmp(rules[i], "allow", 5) == 0) ||
                   (sp - rules[i] == 4 && strncmp(rules[i], "deny", 4) == 0))) {
        fprintf(stderr, "floor: -d %s: expected \"allow RULE\" or \"deny RULE\"\n", rules[i]);
        rmdir(devcg);
        if (*memcg)
          rmdir(memcg);
        return 125;
      }
      cgroup_write(devcg, rules[i][0] == 'a' ? "devices.allow" : "devices.deny", sp + 1);
    }
    mark("device rules");
  }
  static char stack[256 * 1024] __attribute__((aligned(16)));
  pid_t pid = clone(child, stack + sizeof stack,
                    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET |
                        (mem || nrules ? 0 : CLONE_NEWCGROUP) | SIGCHLD, NULL);
  if (pid < 0)
    fail("clone");
  mark("clone");
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      fail("waitpid");
  mark("wait");
  if ((*memcg && rmdir(memcg) < 0) || (*devcg && rmdir(devcg) < 0))
    fail("rmdir cgroup");
  if (*memcg || *devcg)
    mark("teardown: remove the cgroups");
  if (tmpdir && nftw(layer, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
    fail(layer);
  if (tmpdir)
    mark("teardown: remove the layer");
  if (etcroot && *etcdir && nftw(etcdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
    fail(etcdir);
  if (etcroot && *etcdir)
    mark("teardown: remove the state");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
