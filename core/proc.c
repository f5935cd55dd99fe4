/*
 * proc.c - processes: clone, fork, exec, wait, signals, prctl, ids,
 * supplementary groups, resource limits.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wbl.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* The namespace names of /proc/PID/ns, and their clone flags. */
const wbl_Flag wbl_ns_flags[] = {
    {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"mnt", CLONE_NEWNS},
    {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID}, {"time", CLONE_NEWTIME},
    {"user", CLONE_NEWUSER},     {"uts", CLONE_NEWUTS}, {NULL, 0}};

/* struct clone_args of linux/sched.h (CLONE_ARGS_SIZE_VER2). */
struct wbl_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
      stack_size, tls, set_tid, set_tid_size, cgroup;
};

/***
Fork-like clone into new namespaces.
With a cgroup directory fd, clone3(CLONE_INTO_CGROUP) starts the child in
that cgroup (cgroup v2), so its first instruction already runs there.
@tparam[opt] string|table ns e.g. "mnt,pid,uts" (names of /proc/PID/ns)
@tparam[opt] wbl.fd|int cgroup_fd a cgroup v2 directory
@treturn[1] int pid in the parent, 0 in the child
@return[2] fail, message, errno
@see clone(2)
*/
static int proc_clone(lua_State *L)
{
  uint64_t flags = wbl_optflags(L, 1, wbl_ns_flags, 0);
  int cgfd = lua_isnoneornil(L, 2) ? -1 : wbl_checkfd(L, 2);
  struct wbl_clone_args a;
  memset(&a, 0, sizeof a);
  a.flags = flags;
  a.exit_signal = SIGCHLD;
  if (cgfd >= 0) {
    a.flags |= CLONE_INTO_CGROUP;
    a.cgroup = (uint64_t)cgfd;
  }
  long pid = syscall(SYS_clone3, &a, sizeof a);
  if (pid < 0 && errno == ENOSYS && cgfd < 0) /* kernels before 5.3 */
    pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0)
    return wbl_fail(L, cgfd >= 0 ? "clone3 into cgroup" : "clone");
  lua_pushinteger(L, (lua_Integer)pid);
  return 1;
}

/***
pidfd_open(2): an fd that refers to process pid itself (Linux 5.3), what
setns(2) takes to join its namespaces (Linux 5.8).
@function pidfd_open
@int pid
@treturn[1] wbl.fd (O_CLOEXEC)
@return[2] fail, message, errno (ENOSYS before 5.3, ESRCH: no such process)
*/
static int proc_pidfd_open(lua_State *L)
{
  lua_Integer pid = luaL_checkinteger(L, 1);
  luaL_argcheck(L, pid > 0 && pid <= INT_MAX, 1, "bad pid");
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
  int *fd = wbl_newfd(L);
  if ((*fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0)) < 0)
    return wbl_failf(L, "pidfd_open %lld", (long long)pid);
  return 1;
}

/***
fork(2).
@treturn[1] int pid in the parent, 0 in the child
@return[2] fail, message, errno
*/
static int proc_fork(lua_State *L)
{
  pid_t pid = fork();
  if (pid < 0)
    return wbl_fail(L, "fork");
  lua_pushinteger(L, pid);
  return 1;
}

/***
execve(path, argv, env).  Returns only on failure.
@string path
@tparam table argv argv[1] is argv[0]
@tparam[opt] table env { "K=V", ... } or { K = V }; default: the current one
@return fail, message, errno
*/
static int proc_execve(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lua_settop(L, 3); /* argv and env arrays are pushed above the arguments */
  extern char **environ;
  char **envp = lua_isnil(L, 3) ? environ : wbl_checkenv(L, 3);
  char **argv = wbl_checkargv(L, 2);
  execve(path, argv, envp);
  return wbl_failf(L, "exec %s", path);
}

/***
execvpe(file, argv, env): PATH searched in the current environment.
@return fail, message, errno
*/
static int proc_execvp(lua_State *L)
{
  const char *file = luaL_checkstring(L, 1);
  lua_settop(L, 3); /* argv and env arrays are pushed above the arguments */
  extern char **environ;
  char **envp = lua_isnil(L, 3) ? environ : wbl_checkenv(L, 3);
  char **argv = wbl_checkargv(L, 2);
  execvpe(file, argv, envp);
  return wbl_failf(L, "exec %s", file);
}

static const wbl_Flag wait_flags[] = {
    {"nohang", WNOHANG}, {"untraced", WUNTRACED}, {"continued", WCONTINUED},
    {"all", __WALL},     {NULL, 0}};

/***
waitpid(pid, options), with the status decoded.
@int[opt=-1] pid
@tparam[opt] string options "nohang", ...
@treturn[1] int pid (0 with nohang and nothing to reap)
@treturn[1] string "exited", "killed", "stopped" or "continued"
@treturn[1] int exit code or signal number
@treturn[1] boolean core dumped
@return[2] fail, message, errno
*/
static int proc_waitpid(lua_State *L)
{
  pid_t pid = (pid_t)luaL_optinteger(L, 1, -1);
  int opts = (int)wbl_optflags(L, 2, wait_flags, 0);
  int st;
  pid_t r;
  do
    r = waitpid(pid, &st, opts);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_fail(L, "waitpid");
  lua_pushinteger(L, r);
  if (r == 0)
    return 1;
  if (WIFEXITED(st)) {
    lua_pushliteral(L, "exited");
    lua_pushinteger(L, WEXITSTATUS(st));
    return 3;
  }
  if (WIFSIGNALED(st)) {
    lua_pushliteral(L, "killed");
    lua_pushinteger(L, WTERMSIG(st));
    lua_pushboolean(L, WCOREDUMP(st));
    return 4;
  }
  if (WIFSTOPPED(st)) {
    lua_pushliteral(L, "stopped");
    lua_pushinteger(L, WSTOPSIG(st));
    return 3;
  }
  lua_pushliteral(L, "continued");
  return 2;
}

static const struct {
  const char *name;
  int sig;
} signames[] = {
    {"SIGABRT", SIGABRT}, {"SIGALRM", SIGALRM}, {"SIGBUS", SIGBUS},
    {"SIGCHLD", SIGCHLD}, {"SIGCONT", SIGCONT}, {"SIGFPE", SIGFPE},
    {"SIGHUP", SIGHUP},   {"SIGILL", SIGILL},   {"SIGINT", SIGINT},
    {"SIGIO", SIGIO},     {"SIGKILL", SIGKILL}, {"SIGPIPE", SIGPIPE},
    {"SIGPROF", SIGPROF}, {"SIGPWR", SIGPWR},   {"SIGQUIT", SIGQUIT},
    {"SIGSEGV", SIGSEGV}, {"SIGSTOP", SIGSTOP}, {"SIGSYS", SIGSYS},
    {"SIGTERM", SIGTERM}, {"SIGTRAP", SIGTRAP}, {"SIGTSTP", SIGTSTP},
    {"SIGTTIN", SIGTTIN}, {"SIGTTOU", SIGTTOU}, {"SIGURG", SIGURG},
    {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGVTALRM", SIGVTALRM},
    {"SIGWINCH", SIGWINCH}, {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ},
    {NULL, 0}};

/* A signal given as a number, "SIGTERM" or "TERM". */
static int checksig(lua_State *L, int arg)
{
  if (lua_type(L, arg) == LUA_TNUMBER)
    return (int)luaL_checkinteger(L, arg);
  const char *s = luaL_checkstring(L, arg);
  for (int i = 0; signames[i].name; i++)
    if (strcmp(s, signames[i].name) == 0 || strcmp(s, signames[i].name + 3) == 0)
      return signames[i].sig;
  return luaL_argerror(L, arg, lua_pushfstring(L, "unknown signal '%s'", s));
}

static void checksigset(lua_State *L, int arg, sigset_t *set)
{
  sigemptyset(set);
  if (lua_type(L, arg) == LUA_TSTRING && strcmp(lua_tostring(L, arg), "all") == 0) {
    sigfillset(set);
    return;
  }
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_Integer n = luaL_len(L, arg);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, arg, i);
    sigaddset(set, checksig(L, lua_gettop(L)));
    lua_pop(L, 1);
  }
}

/***
kill(pid, sig).
@int pid
@tparam[opt="SIGTERM"] int|string sig
*/
static int proc_kill(lua_State *L)
{
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int sig = lua_isnoneornil(L, 2) ? SIGTERM : checksig(L, 2);
  return wbl_result(L, kill(pid, sig) == 0, "kill");
}

/***
sigprocmask(how, set): how is "block", "unblock" or "set"; set a table of
signals or "all".  Returns the previous mask as a table of numbers.
*/
static int proc_sigprocmask(lua_State *L)
{
  static const char *const hows[] = {"block", "unblock", "set", NULL};
  static const int howv[] = {SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK};
  int how = howv[luaL_checkoption(L, 1, NULL, hows)];
  sigset_t set, old;
  checksigset(L, 2, &set);
  if (sigprocmask(how, &set, &old) < 0)
    return wbl_fail(L, "sigprocmask");
  lua_newtable(L);
  for (int s = 1, k = 0; s < NSIG; s++)
    if (sigismember(&old, s) == 1) {
      lua_pushinteger(L, s);
      lua_rawseti(L, -2, ++k);
    }
  return 1;
}

/***
Wait for one of a set of (blocked) signals.
@tparam table set
@int[opt] timeout_ms none: wait forever
@treturn[1] int signal number (nil, "timeout", EAGAIN on timeout)
@treturn[1] int sending pid
@return[2] fail, message, errno
@see sigtimedwait(2)
*/
static int proc_sigwait(lua_State *L)
{
  sigset_t set;
  siginfo_t si;
  checksigset(L, 1, &set);
  int r;
  if (lua_isnoneornil(L, 2)) {
    do
      r = sigwaitinfo(&set, &si);
    while (r < 0 && errno == EINTR);
  } else {
    lua_Integer ms = luaL_checkinteger(L, 2);
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    do
      r = sigtimedwait(&set, &si, &ts);
    while (r < 0 && errno == EINTR);
  }
  if (r < 0)
    return wbl_fail(L, "sigwait");
  lua_pushinteger(L, r);
  lua_pushinteger(L, si.si_pid);
  return 2;
}

/***
A signalfd for a set of signals (which must be blocked: sigprocmask):
readable while one of them is pending; proc.sigread takes it.
@function signalfd
@tparam table set e.g. { "SIGCHLD", "SIGWINCH" }
@treturn[1] wbl.fd (non-blocking, O_CLOEXEC)
@return[2] fail, "signalfd: message", errno
@see signalfd(2)
*/
static int proc_signalfd(lua_State *L)
{
  sigset_t set;
  checksigset(L, 1, &set);
  int *fd = wbl_newfd(L);
  if ((*fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
    return wbl_fail(L, "signalfd");
  return 1;
}

/***
Take one pending signal from a signalfd.
@function sigread
@tparam wbl.fd|int fd from proc.signalfd
@treturn[1] int signal number
@treturn[1] int sending pid
@return[2] fail, "sigread: message", errno (EAGAIN: none pending)
*/
static int proc_sigread(lua_State *L)
{
  struct signalfd_siginfo si;
  ssize_t r;
  do
    r = read(wbl_checkfd(L, 1), &si, sizeof si);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_fail(L, "sigread");
  if (r != sizeof si)
    return wbl_failn(L, EIO, "sigread");
  lua_pushinteger(L, (lua_Integer)si.ssi_signo);
  lua_pushinteger(L, (lua_Integer)si.ssi_pid);
  return 2;
}

/***
Set a signal's disposition to "default" or "ignore".
*/
static int proc_signal(lua_State *L)
{
  static const char *const acts[] = {"default", "ignore", NULL};
  int sig = checksig(L, 1);
  int act = luaL_checkoption(L, 2, "default", acts);
  return wbl_result(L, signal(sig, act ? SIG_IGN : SIG_DFL) != SIG_ERR, "signal");
}

static const wbl_Flag prctl_opts[] = {{"child_subreaper", PR_SET_CHILD_SUBREAPER},
                                      {"dumpable", PR_SET_DUMPABLE},
                                      {"no_new_privs", PR_SET_NO_NEW_PRIVS},
                                      {"pdeathsig", PR_SET_PDEATHSIG},
                                      {NULL, 0}};

/***
prctl(option, value): "pdeathsig" (a signal), "no_new_privs" (true),
"child_subreaper" (boolean), "dumpable" (boolean: false keeps other
processes of the same uid, without CAP_SYS_PTRACE, out of /proc/PID/exe,
fd, mem, ...; inherited by fork, reset by exec).
@see prctl(2)
*/
static int proc_prctl(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  unsigned long opt = 0;
  for (const wbl_Flag *f = prctl_opts; f->name; f++)
    if (strcmp(f->name, name) == 0)
      opt = f->flag;
  luaL_argcheck(L, opt != 0, 1, "unknown prctl option");
  unsigned long v;
  if (opt == PR_SET_PDEATHSIG)
    v = (unsigned long)(lua_isnoneornil(L, 2) ? 0 : checksig(L, 2));
  else
    v = lua_isnone(L, 2) ? 1 : (unsigned long)lua_toboolean(L, 2);
  return wbl_result(L, prctl((int)opt, v, 0, 0, 0) == 0, "prctl");
}

/***
Mark every fd from first up close-on-exec (close_range CLOSE_RANGE_CLOEXEC,
Linux 5.11; else each fd in /proc/self/fd): what an exec passes on stops
below first (an OCI runtime's --preserve-fds).  Nothing is closed now, so
no handle of this process loses its fd before the exec.
@function cloexec_from
@int first
@treturn[1] true
@return[2] fail, message, errno
*/
static int proc_cloexec_from(lua_State *L)
{
  lua_Integer first = luaL_checkinteger(L, 1);
  luaL_argcheck(L, first >= 0 && first <= 0x7fffffff, 1, "bad fd");
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
  if (syscall(SYS_close_range, (unsigned int)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (errno != ENOSYS && errno != EINVAL)
    return wbl_fail(L, "close_range");
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return wbl_fail(L, "opendir /proc/self/fd");
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end || end == e->d_name || fd < first || fd == self)
      continue;
    int fl = fcntl((int)fd, F_GETFD);
    if (fl >= 0)
      fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
  }
  closedir(d);
  lua_pushboolean(L, 1);
  return 1;
}

static int proc_getpid(lua_State *L)
{
  lua_pushinteger(L, getpid());
  return 1;
}

static int proc_getppid(lua_State *L)
{
  lua_pushinteger(L, getppid());
  return 1;
}

/***
The real user id.
@function getuid
@treturn int uid
@see getuid(2)
*/
static int proc_getuid(lua_State *L)
{
  lua_pushinteger(L, getuid());
  return 1;
}

/***
The real group id.
@function getgid
@treturn int gid
@see getgid(2)
*/
static int proc_getgid(lua_State *L)
{
  lua_pushinteger(L, getgid());
  return 1;
}

/***
Set the supplementary groups to exactly the ones listed.
@function setgroups
@tparam table gids a sequence of gids; {} drops every supplementary group
@treturn[1] true
@return[2] fail, "setgroups: message", errno (EPERM without CAP_SETGID,
  or in a user namespace whose /proc/PID/setgroups says "deny")
@see setgroups(2)
*/
static int proc_setgroups(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 0 && n <= NGROUPS_MAX, 1, "too many groups");
  gid_t *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n ? n : 1), 0);
  for (lua_Integer i = 1; i <= n; i++) {
    int isnum;
    lua_geti(L, 1, i);
    lua_Integer g = lua_tointegerx(L, -1, &isnum);
    if (!isnum || lua_type(L, -1) != LUA_TNUMBER)
      luaL_argerror(L, 1, "gids must be integers");
    luaL_argcheck(L, g >= 0 && g < 0xffffffffLL, 1, "bad gid"); /* -1 is no gid */
    v[i - 1] = (gid_t)g;
    lua_pop(L, 1);
  }
  return wbl_result(L, setgroups((size_t)n, n ? v : NULL) == 0, "setgroups");
}

/***
The supplementary groups, as the kernel lists them.
@function getgroups
@treturn[1] table a sequence of gids (empty if none)
@return[2] fail, "getgroups: message", errno
@see getgroups(2)
*/
static int proc_getgroups(lua_State *L)
{
  int n = getgroups(0, NULL);
  if (n < 0)
    return wbl_fail(L, "getgroups");
  gid_t *v = lua_newuserdatauv(L, sizeof *v * (size_t)(n ? n : 1), 0);
  if ((n = getgroups(n, v)) < 0) /* the core is single-threaded: same n */
    return wbl_fail(L, "getgroups");
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, v[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* setuid(uid) and setgid(gid): e.g. become root of a new user namespace. */
static int proc_setuid(lua_State *L)
{
  return wbl_result(L, setuid((uid_t)luaL_checkinteger(L, 1)) == 0, "setuid");
}

static int proc_setgid(lua_State *L)
{
  return wbl_result(L, setgid((gid_t)luaL_checkinteger(L, 1)) == 0, "setgid");
}

static int proc_setsid(lua_State *L)
{
  pid_t r = setsid();
  if (r < 0)
    return wbl_fail(L, "setsid");
  lua_pushinteger(L, r);
  return 1;
}

/* _exit(code): leave at once, no Lua cleanup (for children of clone/fork). */
static int proc_exit(lua_State *L)
{
  _exit((int)luaL_optinteger(L, 1, 0));
}

/***
The CPUs a process may run on, as a sorted table of numbers.
@see sched_getaffinity(2)
*/
static int proc_getaffinity(lua_State *L)
{
  cpu_set_t set;
  pid_t pid = (pid_t)luaL_optinteger(L, 1, 0);
  if (sched_getaffinity(pid, sizeof set, &set) < 0)
    return wbl_fail(L, "sched_getaffinity");
  lua_newtable(L);
  for (int c = 0, k = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) {
      lua_pushinteger(L, c);
      lua_rawseti(L, -2, ++k);
    }
  return 1;
}

#define R(name) {#name, name}
static const struct {
  const char *name;
  int resource;
} rlimits[] = {
    R(RLIMIT_AS),      R(RLIMIT_CORE),       R(RLIMIT_CPU),     R(RLIMIT_DATA),
    R(RLIMIT_FSIZE),   R(RLIMIT_LOCKS),      R(RLIMIT_MEMLOCK), R(RLIMIT_MSGQUEUE),
    R(RLIMIT_NICE),    R(RLIMIT_NOFILE),     R(RLIMIT_NPROC),   R(RLIMIT_RSS),
    R(RLIMIT_RTPRIO),  R(RLIMIT_RTTIME),     R(RLIMIT_SIGPENDING),
    R(RLIMIT_STACK),   {NULL, 0}};
#undef R

/* A resource by name: "RLIMIT_NOFILE" (as the OCI spec spells it) or "NOFILE". */
static int checkresource(lua_State *L, int arg, const char **name)
{
  const char *s = luaL_checkstring(L, arg);
  for (int i = 0; rlimits[i].name; i++)
    if (strcmp(s, rlimits[i].name) == 0 || strcmp(s, rlimits[i].name + 7) == 0) {
      *name = rlimits[i].name;
      return rlimits[i].resource;
    }
  return luaL_argerror(L, arg, lua_pushfstring(L, "unknown resource '%s'", s));
}

/* A limit: a non-negative integer, or RLIM_INFINITY given as "unlimited",
 * -1, or 2^64 (how a JSON decoder reads 18446744073709551615). */
static rlim_t checklimit(lua_State *L, int arg)
{
  if (lua_type(L, arg) == LUA_TSTRING && strcmp(lua_tostring(L, arg), "unlimited") == 0)
    return RLIM_INFINITY;
  if (lua_type(L, arg) == LUA_TNUMBER && !lua_isinteger(L, arg) &&
      lua_tonumber(L, arg) == 18446744073709551616.0)
    return RLIM_INFINITY;
  if (lua_type(L, arg) != LUA_TNUMBER)
    luaL_typeerror(L, arg, "integer or \"unlimited\"");
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= -1, arg, "bad limit");
  return v == -1 ? RLIM_INFINITY : (rlim_t)v;
}

static void pushlimit(lua_State *L, rlim_t v)
{
  if (v == RLIM_INFINITY)
    lua_pushliteral(L, "unlimited");
  else
    lua_pushinteger(L, (lua_Integer)v);
}

/***
Set a resource limit of this process (prlimit on pid 0).
@function setrlimit
@string resource "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE", ... (every
  RLIMIT_* of Linux; the "RLIMIT_" may be left out)
@tparam int|string soft a number, or "unlimited" (or -1)
@tparam int|string hard a number, or "unlimited" (or -1)
@treturn[1] true
@return[2] fail, "setrlimit RLIMIT_X: message", errno (EINVAL: soft above
  hard; EPERM: hard raised without CAP_SYS_RESOURCE, or NOFILE above
  fs.nr_open)
@see prlimit(2)
*/
static int proc_setrlimit(lua_State *L)
{
  const char *name;
  int res = checkresource(L, 1, &name);
  struct rlimit rl = {.rlim_cur = checklimit(L, 2), .rlim_max = checklimit(L, 3)};
  if (prlimit(0, res, &rl, NULL) < 0)
    return wbl_failf(L, "setrlimit %s", name);
  lua_pushboolean(L, 1);
  return 1;
}

/***
A resource limit of this process (prlimit on pid 0).
@function getrlimit
@string resource as for setrlimit
@treturn[1] int|string soft a number or "unlimited"
@treturn[1] int|string hard a number or "unlimited"
@return[2] fail, "getrlimit RLIMIT_X: message", errno
@see prlimit(2)
*/
static int proc_getrlimit(lua_State *L)
{
  const char *name;
  int res = checkresource(L, 1, &name);
  struct rlimit rl;
  if (prlimit(0, res, NULL, &rl) < 0)
    return wbl_failf(L, "getrlimit %s", name);
  pushlimit(L, rl.rlim_cur);
  pushlimit(L, rl.rlim_max);
  return 2;
}

static const luaL_Reg proc_funcs[] = {
    {"_exit", proc_exit},
    {"cloexec_from", proc_cloexec_from},
    {"clone", proc_clone},
    {"execve", proc_execve},
    {"execvp", proc_execvp},
    {"fork", proc_fork},
    {"getaffinity", proc_getaffinity},
    {"getgid", proc_getgid},
    {"getgroups", proc_getgroups},
    {"getpid", proc_getpid},
    {"getppid", proc_getppid},
    {"getrlimit", proc_getrlimit},
    {"getuid", proc_getuid},
    {"kill", proc_kill},
    {"pidfd_open", proc_pidfd_open},
    {"prctl", proc_prctl},
    {"setgid", proc_setgid},
    {"setgroups", proc_setgroups},
    {"setrlimit", proc_setrlimit},
    {"setsid", proc_setsid},
    {"setuid", proc_setuid},
    {"signal", proc_signal},
    {"signalfd", proc_signalfd},
    {"sigprocmask", proc_sigprocmask},
    {"sigread", proc_sigread},
    {"sigwait", proc_sigwait},
    {"waitpid", proc_waitpid},
    {NULL, NULL}};

int wbl_open_proc(lua_State *L)
{
  luaL_newlib(L, proc_funcs);
  lua_newtable(L);
  for (int i = 0; signames[i].name; i++) {
    lua_pushinteger(L, signames[i].sig);
    lua_setfield(L, -2, signames[i].name);
  }
  lua_setfield(L, -2, "signals");
  lua_newtable(L);
  for (int i = 0; rlimits[i].name; i++) {
    lua_pushinteger(L, rlimits[i].resource);
    lua_setfield(L, -2, rlimits[i].name);
  }
  lua_setfield(L, -2, "rlimits");
  return 1;
}
