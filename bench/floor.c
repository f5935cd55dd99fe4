/*
 * floor.c - the kernel's floor for starting a container: only the system
 * calls, no policy, no checks beyond failing loudly.
 *
 *   floor [-o TMPDIR] [-l LOWER]... [-m BYTES] [-f] ROOT PROG [ARG...]
 *
 * Always: clone into new mount, UTS, IPC, PID, network and cgroup
 * namespaces; / made private; ROOT bound onto itself (or, with -o, an
 * overlay of the -l layers, top first, over ROOT, with an upper and work
 * dir made under TMPDIR and removed after); /proc; pivot_root; exec PROG;
 * wait.  Exit status: PROG's (128+N if killed by signal N), 125 on failure.
 *   -m BYTES  a v1 memory cgroup (memory/wbl-bench-floor-PID) made, limited
 *             (limit_in_bytes, and memsw twice that where it exists), the
 *             child placed in it before it runs, removed after.
 *   -f        the rest of what wbl's init.lua mounts and sets: a read-only
 *             /sys, a /dev tmpfs with null zero full random urandom tty,
 *             devpts, /dev/shm and the fd links, a /tmp tmpfs, the
 *             hostname, lo up, stdin from /dev/null.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXLOWER 128
#define MEMCG "/sys/fs/cgroup/memory"

static const char *root, *tmpdir, *lowers[MAXLOWER];
static int nlower, full;
static long long mem;
static char **cmd;
static int sync_pipe[2];
static char layer[4096], upper[4200], work[4200], merged[4200], cg[256];
static int tfd = -1;

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

static int child(void *arg)
{
  (void)arg;
  char go;
  if (mem) {
    close(sync_pipe[1]);
    if (read(sync_pipe[0], &go, 1) != 1)
      _exit(125);
  }
  char path[8192];
  const char *r = root;
  mark("started");
  mnt(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  if (tmpdir) {
    int n = snprintf(path, sizeof path, "lowerdir=");
    for (int i = 0; i < nlower; i++)
      n += snprintf(path + n, sizeof path - n, "%s:", lowers[i]);
    snprintf(path + n, sizeof path - n, "%s,upperdir=%s,workdir=%s", root, upper, work);
    mnt("overlay", merged, "overlay", 0, path);
    r = merged;
  } else {
    mnt(root, root, NULL, MS_BIND | MS_REC, NULL);
  }
  snprintf(path, sizeof path, "%s/proc", r);
  mnt("proc", path, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
  if (full) {
    snprintf(path, sizeof path, "%s/sys", r);
    mnt("sysfs", path, "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
    snprintf(path, sizeof path, "%s/dev", r);
    mnt("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
    static const struct { const char *n; int ma, mi; } devs[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    mode_t old = umask(0);
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
      snprintf(path, sizeof path, "%s/dev/%s", r, devs[i].n);
      if (mknod(path, S_IFCHR | 0666, makedev(devs[i].ma, devs[i].mi)) < 0)
        fail(path);
    }
    umask(old);
    snprintf(path, sizeof path, "%s/dev/pts", r);
    if (mkdir(path, 0755) < 0)
      fail(path);
    mnt("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
    snprintf(path, sizeof path, "%s/dev/shm", r);
    if (mkdir(path, 01777) < 0)
      fail(path);
    mnt("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    static const char *links[][2] = {{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"},
        {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
      snprintf(path, sizeof path, "%s/dev/%s", r, links[i][0]);
      if (symlink(links[i][1], path) < 0)
        fail(path);
    }
    snprintf(path, sizeof path, "%s/tmp", r);
    mnt("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  }
  mark("mounts");
  if (chdir(r) < 0)
    fail(r);
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    fail("pivot_root");
  if (umount2(".", MNT_DETACH) < 0)
    fail("umount old root");
  if (chdir("/") < 0)
    fail("chdir /");
  if (full) {
    if (sethostname("floor", 5) < 0)
      fail("sethostname");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
      fail("lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
      fail("lo up");
    close(s);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0)
      fail("/dev/null");
    close(null);
  }
  mark("pivot_root, hostname, lo, stdin");
  execv(cmd[0], cmd);
  fail(cmd[0]);
  return 125;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st, (void)ftw;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

int main(int argc, char **argv)
{
  int opt;
  while ((opt = getopt(argc, argv, "+o:l:m:f")) != -1) {
    switch (opt) {
    case 'o': tmpdir = optarg; break;
    case 'l':
      if (nlower == MAXLOWER)
        return 125;
      lowers[nlower++] = optarg;
      break;
    case 'm': mem = atoll(optarg); break;
    case 'f': full = 1; break;
    default:
      fprintf(stderr, "usage: floor [-o TMPDIR] [-l LOWER]... [-m BYTES] [-f] ROOT PROG [ARG...]\n");
      return 125;
    }
  }
  if (argc - optind < 2) {
    fprintf(stderr, "usage: floor [-o TMPDIR] [-l LOWER]... [-m BYTES] [-f] ROOT PROG [ARG...]\n");
    return 125;
  }
  root = argv[optind];
  cmd = argv + optind + 1;
  if (getenv("WBL_TRACE"))
    tfd = open(getenv("WBL_TRACE"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  mark("floor started");
  if (tmpdir) {
    snprintf(layer, sizeof layer, "%s/floor-%d", tmpdir, (int)getpid());
    snprintf(upper, sizeof upper, "%s/upper", layer);
    snprintf(work, sizeof work, "%s/work", layer);
    snprintf(merged, sizeof merged, "%s/root", layer);
    if (mkdir(layer, 0700) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0755) < 0 ||
        mkdir(merged, 0755) < 0)
      fail(layer);
  }
  if (mem) {
    char path[512], val[64];
    snprintf(cg, sizeof cg, MEMCG "/wbl-bench-floor-%d", (int)getpid());
    if (mkdir(cg, 0755) < 0)
      fail(cg);
    snprintf(path, sizeof path, "%s/memory.limit_in_bytes", cg);
    snprintf(val, sizeof val, "%lld", mem);
    wfile(path, val);
    snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", cg);
    snprintf(val, sizeof val, "%lld", 2 * mem);
    if (access(path, F_OK) == 0)
      wfile(path, val);
    if (pipe2(sync_pipe, O_CLOEXEC) < 0)
      fail("pipe");
  }
  mark("upper/work dirs, memory cgroup");
  static char stack[256 * 1024] __attribute__((aligned(16)));
  pid_t pid = clone(child, stack + sizeof stack,
                    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET |
                        CLONE_NEWCGROUP | SIGCHLD, NULL);
  if (pid < 0)
    fail("clone");
  mark("clone");
  if (mem) {
    char path[512], val[32];
    close(sync_pipe[0]);
    snprintf(path, sizeof path, "%s/cgroup.procs", cg);
    snprintf(val, sizeof val, "%d", (int)pid);
    wfile(path, val);
    mark("cgroup.procs, go");
    if (write(sync_pipe[1], "g", 1) != 1)
      fail("go");
    close(sync_pipe[1]);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      fail("waitpid");
  mark("wait");
  if (mem && rmdir(cg) < 0)
    fail(cg);
  mark("teardown: rmdir the memory cgroup");
  if (tmpdir && nftw(layer, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
    fail(layer);
  mark("teardown: remove upper/work");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
