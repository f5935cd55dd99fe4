/*
 * measure.c - run benchmark cases interleaved and print one line per run.
 *
 *   measure [-r RUNS] [-w WARMUP] [-i IDLE_MS] [-W CGDIR] [-E KEY=VAL]... [-T TRACEFILE] [-C]
 *           [-L LOGDIR] CASEFILE
 *
 * CASEFILE: one case a line, tab-separated: NAME PAR SEQ ARGV0 ARGV1 ...
 *   PAR  processes started at once (1: one), SEQ  batches one after another.
 *   "{k}" in an argument is replaced by the slot number 0..PAR-1.
 *   Leading arguments KEY=VAL (KEY: capitals, digits, _) are set in the
 *   process's environment, as env(1) would, without exec'ing env.
 * Every round runs every case once, in turn (A B C A B C ...), starting at
 * a different case each round, so drift on a shared machine hits all alike.
 * Output, one line per measured run (warm-up runs are not printed):
 *   run ROUND CASE WALL_NS CPU_NS MAXRSS_KB
 * and, for a case of more than one process (PAR or SEQ above 1), one line
 * per process after it, its own time from its fork to its reaping:
 *   proc ROUND CASE SLOT WALL_NS       (SLOT: batch * PAR + k)
 * and for a case that failed (it is not run again):
 *   fail CASE STATUS LOGFILE
 * WALL: from the first fork to the reaping of the last process started.
 * CPU: user+sys of every process of the run, descendants included
 *   (getrusage(RUSAGE_CHILDREN) deltas; measure is a child subreaper, so
 *   orphaned descendants are reaped, and counted, here too).
 * MAXRSS: the largest ru_maxrss of any process reaped during the run
 *   (wait4 reports the largest of a process and its reaped descendants).
 * -C: run everything in a private mount namespace where
 *   /sys/fs/cgroup/unified/cgroup.controllers is /dev/null: crun 1.8.1
 *   refuses hybrid hosts otherwise.  Nothing outside changes.
 * -i: sleep IDLE_MS before every run (the "cold" group: no cgroup
 *   migration in the last IDLE_MS, see bench/bench.lua).
 * -W: before every run (outside its time), one cgroup migration: a
 *   parked child of measure's moved between CGDIR/a and CGDIR/b (their
 *   cgroup.procs, in turn; made by the caller).  A cgroup.procs write
 *   takes the kernel's cgroup_threadgroup_rwsem for writing, which waits
 *   for an RCU grace period unless another writer came shortly before:
 *   with -W a runtime that writes cgroup.procs finds it warm in every run,
 *   whatever ran before it (see bench/bench.lua).
 * -T: append "PID<TAB>NS<TAB>bench:fork|bench:reaped" around each run
 *   (the clock of wbl's WBL_TRACE), for the breakdown.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXCASES 64
#define MAXARGS 512
#define MAXPAR 256
#define MAXPROCS 4096

struct bcase {
  char *name;
  int par, seq;
  int argc;
  char *argv[MAXARGS];
  int failed;
};

static struct bcase cases[MAXCASES];
static int ncases;
static const char *tracefile, *logdir = "/tmp";
static int bad_slot;
/* The last run's processes: fork to reap, by slot (batch * par + k). */
static long long proc_wall[MAXPROCS];
static int nprocs;
/* -W: the parked child and the two cgroups it goes between. */
static pid_t warmer;
static char warm_dir[2][4096];
static int warm_side;

static long long now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long cpu_children_ns(void)
{
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static void trace(const char *label)
{
  if (!tracefile)
    return;
  FILE *f = fopen(tracefile, "a");
  if (!f)
    return;
  fprintf(f, "%d\t%lld\t%s\n", (int)getpid(), now_ns(), label);
  fclose(f);
}

static void die(const char *what)
{
  fprintf(stderr, "measure: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void load(const char *file)
{
  FILE *f = fopen(file, "r");
  if (!f)
    die(file);
  char *line = NULL;
  size_t n = 0;
  while (getline(&line, &n, f) > 0) {
    line[strcspn(line, "\n")] = 0;
    if (!*line || *line == '#')
      continue;
    if (ncases == MAXCASES) {
      fprintf(stderr, "measure: too many cases\n");
      exit(2);
    }
    struct bcase *c = &cases[ncases++];
    char *save = NULL, *tok;
    int field = 0;
    for (tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save), field++) {
      if (field == 0)
        c->name = strdup(tok);
      else if (field == 1)
        c->par = atoi(tok);
      else if (field == 2)
        c->seq = atoi(tok);
      else if (c->argc < MAXARGS - 1)
        c->argv[c->argc++] = strdup(tok);
    }
    if (c->argc == 0 || c->par < 1 || c->par > MAXPAR || c->seq < 1) {
      fprintf(stderr, "measure: bad case line %d\n", ncases);
      exit(2);
    }
  }
  free(line);
  fclose(f);
}

/* Start one process of case c in slot k; stdout to /dev/null, stderr to log. */
/* KEY=VAL, KEY of capitals, digits and _ (not a path or a program). */
static int is_assignment(const char *s)
{
  const char *p = s;
  while ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')
    p++;
  return p > s && *p == '=';
}

static pid_t start(struct bcase *c, int ci, int k)
{
  char *argv[MAXARGS];
  char slot[16], log[4096];
  snprintf(slot, sizeof slot, "%d", k);
  snprintf(log, sizeof log, "%s/case%d.slot%d.err", logdir, ci, k);
  for (int i = 0; i < c->argc; i++) {
    char *p = strstr(c->argv[i], "{k}");
    if (p) {
      char *s = malloc(strlen(c->argv[i]) + sizeof slot);
      sprintf(s, "%.*s%s%s", (int)(p - c->argv[i]), c->argv[i], slot, p + 3);
      argv[i] = s;
    } else {
      argv[i] = c->argv[i];
    }
  }
  argv[c->argc] = NULL;
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    int err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
    }
    if (err >= 0)
      dup2(err, 2);
    char **a = argv;
    while (*a && is_assignment(*a))
      putenv(*a++);
    execvp(a[0], a);
    fprintf(stderr, "exec %s: %s\n", a[0] ? a[0] : "(nothing)", strerror(errno));
    _exit(127);
  }
  for (int i = 0; i < c->argc; i++)
    if (argv[i] != c->argv[i])
      free(argv[i]);
  return pid;
}

/* One run of case ci: SEQ batches of PAR processes.  Returns 0 or the first
 * bad wait status (as exit code, or 128+signal). */
static int run_case(int ci, long long *wall, long long *cpu, long *maxrss)
{
  struct bcase *c = &cases[ci];
  int bad = 0;
  *maxrss = 0;
  long long cpu0 = cpu_children_ns();
  trace("bench:fork");
  long long t0 = now_ns();
  nprocs = 0;
  for (int s = 0; s < c->seq; s++) {
    pid_t pids[MAXPAR];
    long long forked[MAXPAR];
    int left = c->par;
    for (int k = 0; k < c->par; k++) {
      forked[k] = now_ns();
      pids[k] = start(c, ci, k);
    }
    while (left > 0) {
      int st;
      struct rusage ru;
      pid_t p = wait4(-1, &st, 0, &ru);
      if (p < 0) {
        if (errno == EINTR)
          continue;
        die("wait4");
      }
      if (ru.ru_maxrss > *maxrss)
        *maxrss = ru.ru_maxrss;
      for (int k = 0; k < c->par; k++) {
        if (pids[k] == p) {
          pids[k] = 0;
          left--;
          int slot = s * c->par + k;
          if (slot < MAXPROCS) {
            proc_wall[slot] = now_ns() - forked[k];
            if (slot >= nprocs)
              nprocs = slot + 1;
          }
          int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          if (code && !bad) {
            bad = code;
            bad_slot = k;
          }
        }
      }
    }
  }
  *wall = now_ns() - t0;
  trace("bench:reaped");
  /* Orphans that are already dead count for this run too. */
  for (;;) {
    int st;
    struct rusage ru;
    pid_t p = wait4(-1, &st, WNOHANG, &ru);
    if (p <= 0)
      break;
    if (ru.ru_maxrss > *maxrss)
      *maxrss = ru.ru_maxrss;
  }
  *cpu = cpu_children_ns() - cpu0;
  return bad;
}

static void warm_start(const char *dir)
{
  snprintf(warm_dir[0], sizeof warm_dir[0], "%s/a", dir);
  snprintf(warm_dir[1], sizeof warm_dir[1], "%s/b", dir);
  warmer = fork();
  if (warmer < 0)
    die("fork");
  if (warmer == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;)
      pause();
  }
}

/* One migration of the parked child (not timed). */
static void warm(void)
{
  char path[4200], pid[32];
  snprintf(path, sizeof path, "%s/cgroup.procs", warm_dir[warm_side]);
  snprintf(pid, sizeof pid, "%d", (int)warmer);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
    die(path);
  close(fd);
  warm_side ^= 1;
}

static void cover_controllers(void)
{
  if (unshare(CLONE_NEWNS) < 0)
    die("unshare(CLONE_NEWNS)");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    die("make / private");
  if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0 &&
      mount("/dev/null", "/sys/fs/cgroup/unified/cgroup.controllers", NULL, MS_BIND, NULL) < 0)
    die("bind /dev/null over /sys/fs/cgroup/unified/cgroup.controllers");
}

int main(int argc, char **argv)
{
  int runs = 30, warmup = 3, opt, cover = 0, idle_ms = 0;
  const char *warm_path = NULL;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  while ((opt = getopt(argc, argv, "r:w:i:W:E:T:CL:")) != -1) {
    switch (opt) {
    case 'r': runs = atoi(optarg); break;
    case 'w': warmup = atoi(optarg); break;
    case 'i': idle_ms = atoi(optarg); break;
    case 'W': warm_path = optarg; break;
    case 'E': putenv(optarg); break;
    case 'T': tracefile = optarg; break;
    case 'C': cover = 1; break;
    case 'L': logdir = optarg; break;
    default:
      fprintf(stderr, "usage: measure [-r RUNS] [-w WARMUP] [-i IDLE_MS] [-W CGDIR] [-E K=V] [-T FILE] [-C]\n"
                      "               [-L DIR] CASEFILE\n");
      return 2;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "measure: one CASEFILE expected\n");
    return 2;
  }
  load(argv[optind]);
  if (cover)
    cover_controllers();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (warm_path)
    warm_start(warm_path);
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int round = -warmup; round < runs; round++) {
    int first = ((round % ncases) + ncases) % ncases;
    for (int j = 0; j < ncases; j++) {
      int ci = (first + j) % ncases;
      if (cases[ci].failed)
        continue;
      long long wall, cpu;
      long rss;
      if (idle_ms > 0) {
        struct timespec idle = {idle_ms / 1000, (idle_ms % 1000) * 1000000L};
        while (nanosleep(&idle, &idle) < 0 && errno == EINTR)
          ;
      }
      if (warmer)
        warm();
      int bad = run_case(ci, &wall, &cpu, &rss);
      if (bad) {
        cases[ci].failed = 1;
        printf("fail\t%s\t%d\t%s/case%d.slot%d.err\n", cases[ci].name, bad, logdir, ci, bad_slot);
        continue;
      }
      if (round < 0)
        continue;
      printf("run\t%d\t%s\t%lld\t%lld\t%ld\n", round, cases[ci].name, wall, cpu, rss);
      if (nprocs > 1)
        for (int k = 0; k < nprocs; k++)
          printf("proc\t%d\t%s\t%d\t%lld\n", round, cases[ci].name, k, proc_wall[k]);
    }
  }
  if (warmer) {
    kill(warmer, SIGKILL);
    waitpid(warmer, NULL, 0);
  }
  return 0;
}
