/*
 * seccomp.c - a seccomp filter built by libseccomp from a profile table
 * (the OCI runtime spec's linux.seccomp): loaded into the calling thread,
 * or compiled to its BPF program (the bytes libseccomp would load); a
 * ready BPF program loaded with seccomp(2); the calling process's seccomp
 * mode.
 *
 * Policy-free: which profile, and when to load it, is Lua's.  What the
 * profile names is checked as it is read (an unknown action, operator or
 * architecture raises); a syscall name this libseccomp does not know is
 * skipped, as runc does, so one profile serves older and newer systems.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wbl.h"

#define WBL_SECCOMP_FILTER "wbl.seccomp.filter"

/* The OCI architecture names and libseccomp's tokens. */
static const struct {
  const char *name;
  uint32_t token;
} arches[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
    {NULL, 0}};

static const char *const action_names[] = {
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", NULL};

/* In the order of enum scmp_compare, from SCMP_CMP_NE (1). */
static const char *const op_names[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
                                       "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                       "SCMP_CMP_MASKED_EQ", NULL};

/* The filter being built: a bad profile raises halfway, and the
 * collector then releases what libseccomp allocated. */
typedef struct {
  scmp_filter_ctx ctx;
  int rules; /* rules added (for the tree: see build_filter) */
} Filter;

static int filter_release(lua_State *L)
{
  Filter *f = luaL_checkudata(L, 1, WBL_SECCOMP_FILTER);
  if (f->ctx) {
    seccomp_release(f->ctx);
    f->ctx = NULL;
  }
  return 0;
}

/* A bad profile: raise, naming the field (argument 1 is the profile). */
static int bad(lua_State *L, const char *where, const char *field, const char *msg)
{
  return luaL_argerror(L, 1, lua_pushfstring(L, "%s%s: %s", where, field, msg));
}

/* t[field] as one of names (its index), or raise: "unknown KIND". */
static int check_name(lua_State *L, int t, const char *field, const char *where,
                      const char *const names[], const char *kind)
{
  lua_getfield(L, t, field);
  const char *s = lua_tostring(L, -1);
  if (lua_type(L, -1) != LUA_TSTRING)
    bad(L, where, field, "missing");
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) {
      lua_pop(L, 1);
      return i;
    }
  return bad(L, where, field, lua_pushfstring(L, "unknown %s '%s'", kind, s));
}

/* t[field] as a 64-bit value: an integer, or a float for values past
 * 2^63 (as a JSON decoder may give them); 0 if absent. */
static uint64_t opt_u64(lua_State *L, int t, const char *field, const char *where)
{
  uint64_t v = 0;
  lua_getfield(L, t, field);
  if (lua_isinteger(L, -1))
    v = (uint64_t)lua_tointeger(L, -1);
  else if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Number d = lua_tonumber(L, -1);
    if (!(d >= 0 && d < 18446744073709551616.0) || d != (lua_Number)(uint64_t)d)
      bad(L, where, field, "not a 64-bit unsigned integer");
    v = (uint64_t)d;
  } else if (!lua_isnil(L, -1))
    bad(L, where, field, "not a number");
  lua_pop(L, 1);
  return v;
}

/* The action of t: t[afield] with t[efield] the errno of SCMP_ACT_ERRNO
 * and SCMP_ACT_TRACE (default EPERM, as runc). */
static uint32_t check_action(lua_State *L, int t, const char *afield, const char *efield,
                             const char *where)
{
  int a = check_name(L, t, afield, where, action_names, "action");
  uint32_t en = EPERM;
  lua_getfield(L, t, efield);
  if (!lua_isnil(L, -1)) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 0xffff)
      bad(L, where, efield, "not an errno");
    en = (uint32_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  switch (a) {
  case 0:
  case 1: return SCMP_ACT_KILL_THREAD;
  case 2: return SCMP_ACT_KILL_PROCESS;
  case 3: return SCMP_ACT_TRAP;
  case 4: return SCMP_ACT_ERRNO(en);
  case 5: return SCMP_ACT_TRACE(en);
  case 6: return SCMP_ACT_ALLOW;
  default: return SCMP_ACT_LOG;
  }
}

/* The rules of one syscalls[] entry (on the stack top) for every name
 * libseccomp knows.  Conditions are ANDed in one rule, unless two test
 * the same argument: libseccomp cannot, so each is a rule of its own
 * (ORed), as runc does.  Returns 0, or a negative errno with *name the
 * syscall whose rule failed. */
static int add_rules(lua_State *L, Filter *f, uint32_t def, const char *where,
                     const char **name)
{
  int t = lua_gettop(L);
  uint32_t act = check_action(L, t, "action", "errnoRet", where);
  struct scmp_arg_cmp cmp[6];
  unsigned n = 0, count[6] = {0};
  int split = 0;
  if (lua_getfield(L, t, "args") == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, -1);
    if (len > 6)
      bad(L, where, "args", "more than 6 conditions");
    for (lua_Integer i = 1; i <= len; i++) {
      lua_geti(L, -1, i);
      if (!lua_istable(L, -1))
        bad(L, where, lua_pushfstring(L, "args[%I]", i), "not a table");
      const char *w = lua_pushfstring(L, "%sargs[%I].", where, i);
      int a = lua_gettop(L) - 1;
      lua_getfield(L, a, "index");
      lua_Integer index = lua_tointeger(L, -1);
      if (!lua_isinteger(L, -1) || index < 0 || index > 5)
        bad(L, w, "index", "must be 0 to 5");
      lua_pop(L, 1);
      cmp[n].arg = (unsigned)index;
      cmp[n].op = (enum scmp_compare)(check_name(L, a, "op", w, op_names, "operator") + SCMP_CMP_NE);
      cmp[n].datum_a = opt_u64(L, a, "value", w);
      cmp[n].datum_b = opt_u64(L, a, "valueTwo", w);
      split |= ++count[index] > 1;
      n++;
      lua_pop(L, 2);
    }
  } else if (!lua_isnil(L, -1))
    bad(L, where, "args", "not a list");
  lua_pop(L, 1);
  /* A rule for the default action is no rule (libseccomp refuses it). */
  if (act == def)
    return 0;
  if (lua_getfield(L, t, "names") != LUA_TTABLE)
    bad(L, where, "names", "not a list");
  lua_Integer len = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, -1, i);
    *name = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING)
      bad(L, where, lua_pushfstring(L, "names[%I]", i), "not a string");
    int nr = seccomp_syscall_resolve_name(*name);
    lua_pop(L, 1); /* *name stays valid: the names table holds it */
    if (nr == __NR_SCMP_ERROR)
      continue; /* newer than this libseccomp (or not a syscall): skipped */
    int rc = 0;
    if (split)
      for (unsigned k = 0; k < n && rc == 0; k++)
        rc = seccomp_rule_add_array(f->ctx, act, nr, 1, &cmp[k]);
    else
      rc = seccomp_rule_add_array(f->ctx, act, nr, n, cmp);
    if (rc < 0)
      return rc;
    f->rules++;
  }
  lua_pop(L, 1);
  return 0;
}

/* Build the filter of the profile at 1 (as load and compile describe it)
 * into *out, a Filter left on the stack: 0, or (libseccomp refused) the
 * count of fail, message, errno pushed.  A bad profile raises. */
static int build_filter(lua_State *L, Filter **out)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  Filter *f = *out = lua_newuserdatauv(L, sizeof *f, 0);
  f->ctx = NULL;
  f->rules = 0;
  luaL_setmetatable(L, WBL_SECCOMP_FILTER);
  uint32_t def = check_action(L, 1, "defaultAction", "defaultErrnoRet", "");
  if (!(f->ctx = seccomp_init(def)))
    return wbl_failn(L, ENOMEM, "seccomp_init");
  int rc;
  /* wbl sets no_new_privs itself, when the spec asks; the kernel's own
   * errors, not libseccomp's ECANCELED. */
  if ((rc = seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0 ||
      (rc = seccomp_attr_set(f->ctx, SCMP_FLTATR_API_SYSRAWRC, 1)) < 0)
    return wbl_failn(L, -rc, "seccomp_attr_set");
  /* The syscalls in a binary tree, not one after another: loading the
   * filter, the kernel runs it for every syscall number of every
   * architecture (seccomp's cache of what is always allowed), and then
   * each call of the container runs it; docker's profile (~376 names)
   * took 0.8 ms to load as a list, ~0.1 ms as a tree (bench/: floor -s).
   * The same answers for every call (spec/priv/seccomp_spec.lua).  Set
   * once the rules are in (below); a libseccomp without it (before 2.5):
   * the list, as before. */

  if (lua_getfield(L, 1, "architectures") == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
      lua_geti(L, -1, i);
      const char *s = lua_tostring(L, -1);
      int k = 0;
      while (arches[k].name && !(s && strcmp(arches[k].name, s) == 0))
        k++;
      if (!arches[k].name)
        bad(L, "", lua_pushfstring(L, "architectures[%I]", i),
            lua_pushfstring(L, "unknown architecture '%s'", s ? s : "?"));
      rc = seccomp_arch_add(f->ctx, arches[k].token);
      if (rc < 0 && rc != -EEXIST) /* EEXIST: the native one, there already */
        return wbl_failn(L, -rc, lua_pushfstring(L, "seccomp_arch_add %s", s));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "flags") == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
      lua_geti(L, -1, i);
      const char *s = lua_tostring(L, -1);
      enum scmp_filter_attr attr;
      if (s && strcmp(s, "SECCOMP_FILTER_FLAG_LOG") == 0)
        attr = SCMP_FLTATR_CTL_LOG;
      else if (s && strcmp(s, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
        attr = SCMP_FLTATR_CTL_SSB;
      else
        return bad(L, "", lua_pushfstring(L, "flags[%I]", i), "unknown flag");
      if ((rc = seccomp_attr_set(f->ctx, attr, 1)) < 0)
        return wbl_failn(L, -rc, lua_pushfstring(L, "seccomp_attr_set %s", s));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "syscalls") == LUA_TTABLE) {
    lua_Integer len = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= len; i++) {
      const char *where = lua_pushfstring(L, "syscalls[%I].", i);
      if (lua_geti(L, -2, i) != LUA_TTABLE)
        bad(L, where, "", "not a table");
      const char *name = "?";
      if ((rc = add_rules(L, f, def, where, &name)) < 0)
        return wbl_failn(L, -rc, lua_pushfstring(L, "seccomp_rule_add %s", name));
      lua_pop(L, 2);
    }
  }
  lua_pop(L, 1);
  /* The tree only for 8 rules or more, as runc: libseccomp before 2.5.4
   * made a tree of no rules that ignored the default action. */
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 5)
  if (f->rules >= 8)
    seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
#endif
  return 0;
}

/***
Build a seccomp filter from a profile and load it into the calling
thread (the process must be single-threaded, or other threads go
unfiltered).  Loading needs CAP_SYS_ADMIN or no_new_privs; the filter
never sets no_new_privs itself.
@tparam table profile the OCI runtime spec's linux.seccomp: defaultAction
  ("SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", ...), defaultErrnoRet,
  architectures ({ "SCMP_ARCH_X86_64", ... }; the native one is always
  there), flags ({ "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW" }),
  syscalls ({ { names, action, errnoRet, args = { { index, value,
  valueTwo, op = "SCMP_CMP_EQ" }, ... } }, ... }).  Names libseccomp does
  not know are skipped; anything else unknown raises.
@treturn[1] true
@return[2] fail, message, errno
@see seccomp_load(3), seccomp_rule_add(3)
*/
static int seccomp_load_profile(lua_State *L)
{
  Filter *f;
  int n = build_filter(L, &f);
  if (n)
    return n;
  int rc = seccomp_load(f->ctx);
  seccomp_release(f->ctx);
  f->ctx = NULL;
  if (rc < 0)
    return wbl_failn(L, -rc, "seccomp_load");
  lua_pushboolean(L, 1);
  return 1;
}

/***
Build a seccomp filter from a profile, as load does, and return its BPF
program instead of loading it: the bytes libseccomp exports (and would
have loaded), struct sock_filter after struct sock_filter, in this
machine's byte order.  Loading it (load_bpf, with the profile's flags)
is then one system call.  Needs no privilege; the flags the profile
names must be ones this kernel supports, as for load.
@tparam table profile as load's
@treturn[1] string the program
@return[2] fail, message, errno
@see seccomp_export_bpf(3)
*/
static int seccomp_compile(lua_State *L)
{
  Filter *f;
  int n = build_filter(L, &f);
  if (n)
    return n;
  int fd = memfd_create("wbl-seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0)
    return wbl_fail(L, "memfd_create");
  int rc = seccomp_export_bpf(f->ctx, fd);
  seccomp_release(f->ctx);
  f->ctx = NULL;
  if (rc < 0) {
    close(fd);
    return wbl_failn(L, -rc, "seccomp_export_bpf");
  }
  off_t size = lseek(fd, 0, SEEK_CUR);
  if (size < 0 || lseek(fd, 0, SEEK_SET) < 0) {
    n = wbl_fail(L, "lseek");
    close(fd);
    return n;
  }
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)size);
  size_t got = 0;
  while (got < (size_t)size) {
    ssize_t r = read(fd, p + got, (size_t)size - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      n = r < 0 ? wbl_fail(L, "read the BPF program") : wbl_failn(L, EIO, "read the BPF program");
      close(fd);
      return n;
    }
    got += (size_t)r;
  }
  close(fd);
  luaL_pushresultsize(&b, got);
  return 1;
}

static const wbl_Flag filter_flags[] = {
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {NULL, 0}};

/***
Load a ready BPF program (compile's) into the calling thread with
seccomp(2) SECCOMP_SET_MODE_FILTER: what libseccomp's seccomp_load does
once it has built the program.  As load: the process should be
single-threaded, it needs CAP_SYS_ADMIN or no_new_privs, and this never
sets no_new_privs itself.
@string program struct sock_filter instructions (a multiple of 8 bytes,
  1 to BPF_MAXINSNS of them)
@tparam[opt] table flags the profile's flags ({ "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW" }); unknown names raise
@treturn[1] true
@return[2] fail, message, errno (EINVAL: not a program of whole instructions)
@see seccomp(2)
*/
static int seccomp_load_bpf(lua_State *L)
{
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  unsigned long flags = wbl_optflags(L, 2, filter_flags, 0);
  if (len == 0 || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return wbl_failn(L, EINVAL, lua_pushfstring(L, "a BPF program of %d bytes", (int)len));
  /* (a copy: the instructions aligned as the kernel reads them) */
  struct sock_filter *insns = lua_newuserdatauv(L, len, 0);
  memcpy(insns, bytes, len);
  struct sock_fprog prog = {.len = (unsigned short)(len / sizeof *insns), .filter = insns};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (errno == ENOSYS && flags == 0) /* before Linux 3.17: prctl (no flags there) */
    return wbl_result(L, prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0,
                      "prctl PR_SET_SECCOMP");
  return wbl_fail(L, "seccomp SECCOMP_SET_MODE_FILTER");
}

/***
The calling process's seccomp mode, from /proc/self/status: 0 none,
1 strict, 2 filter.
@treturn[1] int mode
@return[2] fail, message, errno
*/
static int seccomp_mode(lua_State *L)
{
  FILE *fp = fopen("/proc/self/status", "re");
  if (!fp)
    return wbl_fail(L, "open /proc/self/status");
  char line[256];
  int mode = -1;
  while (fgets(line, sizeof line, fp))
    if (sscanf(line, "Seccomp: %d", &mode) == 1)
      break;
  fclose(fp);
  if (mode < 0) /* a kernel without CONFIG_SECCOMP */
    return wbl_failn(L, ENOSYS, "/proc/self/status has no Seccomp:");
  lua_pushinteger(L, mode);
  return 1;
}

/***
The native architecture's OCI name ("SCMP_ARCH_X86_64", ...) and the
version of libseccomp ("2.5.4").
@treturn string arch
@treturn string version
*/
static int seccomp_native(lua_State *L)
{
  uint32_t token = seccomp_arch_native();
  const char *name = "?";
  for (int k = 0; arches[k].name; k++)
    if (arches[k].token == token)
      name = arches[k].name;
  lua_pushstring(L, name);
  const struct scmp_version *v = seccomp_version();
  lua_pushfstring(L, "%d.%d.%d", (int)v->major, (int)v->minor, (int)v->micro);
  return 2;
}

static const luaL_Reg seccomp_funcs[] = {{"load", seccomp_load_profile},
                                         {"compile", seccomp_compile},
                                         {"load_bpf", seccomp_load_bpf},
                                         {"mode", seccomp_mode},
                                         {"native", seccomp_native},
                                         {NULL, NULL}};

int wbl_open_seccomp(lua_State *L)
{
  if (luaL_newmetatable(L, WBL_SECCOMP_FILTER)) {
    lua_pushcfunction(L, filter_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, filter_release);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_newlib(L, seccomp_funcs);
  return 1;
}
