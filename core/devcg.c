/*
 * devcg.c - a cgroup2 directory's device allow-list: a
 * BPF_PROG_TYPE_CGROUP_DEVICE program built from a rule list (OCI's
 * linux.resources.devices shape), loaded and attached.  The kernel runs it
 * at every open(2) and mknod(2) of a device node by a process of that
 * cgroup or below; where it returns 0 the call fails with EPERM.  cgroup
 * v1's devices.allow and devices.deny are plain files: wbl.devices writes
 * them, no C needed.
 *
 * The instructions are written by hand (as crun does), not compiled: the
 * program is a chain of compares, and libbpf would be a dependency for
 * what is a few dozen lines here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wbl.h"

/* Enough for any real list; it also keeps every jump within the 16-bit
 * offset a BPF jump has (a bit's chain is at most 5 insns per rule). */
#define MAX_RULES 4096
#define LOG_SIZE (64 * 1024)

typedef struct {
  int allow;
  int type;             /* BPF_DEVCG_DEV_CHAR, _BLOCK, or 0: any */
  int32_t major, minor; /* -1: any */
  int access;           /* BPF_DEVCG_ACC_* bits */
} Rule;

static int sys_bpf(int cmd, union bpf_attr *attr)
{
  return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* A number field of a rule: nil or -1 is any (-1). */
static int32_t rule_number(lua_State *L, int i, const char *field)
{
  int t = lua_getfield(L, -1, field);
  lua_Integer n = -1;
  if (t != LUA_TNIL) {
    int isnum;
    n = lua_tointegerx(L, -1, &isnum);
    if (!isnum || n < -1 || n > 0x7fffffff)
      luaL_error(L, "device rule %d: %s must be an integer 0..2^31-1, -1 or nil", i, field);
  }
  lua_pop(L, 1);
  return (int32_t)n;
}

/* The rules at arg: { { allow, type, major, minor, access }, ... }. */
static Rule *check_rules(lua_State *L, int arg, int *count)
{
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_Integer n = luaL_len(L, arg);
  luaL_argcheck(L, n <= MAX_RULES, arg, "too many device rules");
  Rule *r = lua_newuserdatauv(L, sizeof(Rule) * (size_t)(n ? n : 1), 0);
  for (int i = 1; i <= n; i++) {
    if (lua_geti(L, arg, i) != LUA_TTABLE)
      luaL_error(L, "device rule %d: a table expected", i);
    Rule *x = &r[i - 1];
    lua_getfield(L, -1, "allow");
    if (!lua_isboolean(L, -1))
      luaL_error(L, "device rule %d: allow must be a boolean", i);
    x->allow = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "type");
    const char *type = lua_isnil(L, -1) ? "a" : lua_tostring(L, -1);
    if (!type || strlen(type) != 1 || !strchr("acb", type[0]))
      luaL_error(L, "device rule %d: type must be \"a\", \"c\", \"b\" or nil", i);
    x->type = type[0] == 'c' ? BPF_DEVCG_DEV_CHAR : type[0] == 'b' ? BPF_DEVCG_DEV_BLOCK : 0;
    lua_pop(L, 1);
    x->major = rule_number(L, i, "major");
    x->minor = rule_number(L, i, "minor");
    lua_getfield(L, -1, "access");
    const char *acc = lua_isnil(L, -1) ? "rwm" : lua_tostring(L, -1);
    x->access = 0;
    for (const char *p = acc; p && *p; p++) {
      int bit = *p == 'r' ? BPF_DEVCG_ACC_READ : *p == 'w' ? BPF_DEVCG_ACC_WRITE
              : *p == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
      if (!bit)
        luaL_error(L, "device rule %d: access must be letters of \"rwm\"", i);
      x->access |= bit;
    }
    if (!acc || !x->access)
      luaL_error(L, "device rule %d: access must be letters of \"rwm\"", i);
    lua_pop(L, 2);
  }
  *count = (int)n;
  return r;
}

#define INSN(c, d, s, o, i) \
  ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDXW(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define MOVR(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOVK(d, k) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define ALUK(op, d, k) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, k)
#define JNEK(d, k, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, k)
#define JSETK(d, k, o) INSN(BPF_JMP | BPF_JSET | BPF_K, d, 0, o, k)
#define JA(o) INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * The program.  Registers: r2 the device type, r3 the access asked for,
 * r4 the major, r5 the minor (struct bpf_cgroup_dev_ctx).  One chain per
 * access bit (m, r, w) the call asks for; a chain tries the rules that
 * name that bit, last rule first, and the first whose type, major and
 * minor match decides: an allow goes on to the next bit, a deny returns 0.
 * No rule naming the bit: 0.  Every bit asked for allowed: 1.
 * A rule that matches every device ends its chain: the verifier refuses
 * code that cannot be reached.  Returns the instruction count.
 */
static int build(struct bpf_insn *p, const Rule *r, int n)
{
  static const int bits[] = {BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE};
  int k = 0;
  p[k++] = LDXW(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
  p[k++] = LDXW(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
  p[k++] = LDXW(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
  p[k++] = MOVR(BPF_REG_3, BPF_REG_2);
  p[k++] = ALUK(BPF_RSH, BPF_REG_3, 16);
  p[k++] = ALUK(BPF_AND, BPF_REG_2, 0xffff);
  for (int b = 0; b < 3; b++) {
    int next[MAX_RULES + 1], nn = 0; /* jumps to patch to the next chain */
    p[k++] = JSETK(BPF_REG_3, bits[b], 1);
    next[nn++] = k;
    p[k++] = JA(0);
    int ended = 0;
    for (int i = n - 1; i >= 0 && !ended; i--) {
      const Rule *x = &r[i];
      if (!(x->access & bits[b]))
        continue;
      int checks = (x->type != 0) + (x->major >= 0) + (x->minor >= 0);
      int left = checks + (x->allow ? 1 : 2); /* insns of this rule */
      if (x->type)
        p[k++] = JNEK(BPF_REG_2, x->type, --left);
      if (x->major >= 0)
        p[k++] = JNEK(BPF_REG_4, x->major, --left);
      if (x->minor >= 0)
        p[k++] = JNEK(BPF_REG_5, x->minor, --left);
      if (x->allow) {
        next[nn++] = k;
        p[k++] = JA(0);
      } else {
        p[k++] = MOVK(BPF_REG_0, 0);
        p[k++] = EXIT;
      }
      ended = checks == 0;
    }
    if (!ended) {
      p[k++] = MOVK(BPF_REG_0, 0);
      p[k++] = EXIT;
    }
    for (int j = 0; j < nn; j++)
      p[next[j]].off = (int16_t)(k - next[j] - 1);
  }
  p[k++] = MOVK(BPF_REG_0, 1);
  p[k++] = EXIT;
  return k;
}

/* The cgroup2 directory at arg: a path (opened into a new fd slot, closed
 * by the caller or the collector) or an fd.  -1 with a failure pushed. */
static int dir_fd(lua_State *L, int arg, int **slot)
{
  *slot = NULL;
  if (lua_type(L, arg) != LUA_TSTRING)
    return wbl_checkfd(L, arg);
  const char *path = lua_tostring(L, arg);
  *slot = wbl_newfd(L);
  if ((**slot = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    wbl_failf(L, "open %s", path);
    return -1;
  }
  return **slot;
}

/***
Attach a device allow-list to a cgroup2 directory: a
BPF_PROG_TYPE_CGROUP_DEVICE program built from rules, loaded, attached
with BPF_F_ALLOW_MULTI (programs of the parents still run: every one must
allow).  The cgroup owns the program from then on; it goes with the
cgroup.

How rules are read (the evaluation is exact): an access asks for one or
more of m (mknod), r, w (open for reading, writing).  For each of those
bits, the LAST rule that names the bit and matches the device (type "c",
"b" or "a"/nil for both; major, minor: nil or -1 for any) decides it; a
bit no rule names is denied.  The access is allowed when every bit it asks
for is.  (runc's program takes the last matching rule whose access holds
every bit asked for: the two differ only for an open for reading and
writing that matching rules grant or deny apart, where runc can let a
"deny w" pass an rw open.)
@function attach
@tparam string|wbl.fd|int dir the cgroup2 directory, a path or an fd
@tparam table rules { { allow = bool, type = "c"|"b"|"a"|nil, major = n|nil,
  minor = n|nil, access = "rwm" (nil: "rwm") }, ... } in order; bad ones raise
@treturn[1] true
@return[2] fail, "BPF_PROG_LOAD (N insns), verifier: its log's end: message" or
  "BPF_PROG_ATTACH DIR: message", errno
@see bpf(2)
*/
static int devcg_attach(lua_State *L)
{
  int n;
  Rule *rules = check_rules(L, 2, &n);
  size_t max = 6 + 3 * (4 + 5 * (size_t)n) + 2;
  struct bpf_insn *insns = lua_newuserdatauv(L, max * sizeof *insns, 0);
  int count = build(insns, rules, n);
  int *dslot, *pslot = wbl_newfd(L);
  int dfd = dir_fd(L, 1, &dslot);
  if (dfd < 0)
    return 3;

  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = (uint32_t)count;
  /* No GPL-only helper is called: the string says nothing (runc: "Apache"). */
  a.license = (uint64_t)(uintptr_t)"wbl";
  if ((*pslot = sys_bpf(BPF_PROG_LOAD, &a)) < 0) {
    int en = errno;
    /* Again with the verifier's log, for the message. */
    char *log = lua_newuserdatauv(L, LOG_SIZE, 0);
    log[0] = 0;
    a.log_level = 1;
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = LOG_SIZE;
    if ((*pslot = sys_bpf(BPF_PROG_LOAD, &a)) >= 0) {
      wbl_closefd(pslot); /* loads when logged: say what failed first */
      log[0] = 0;
    }
    /* Its last lines, as one line: they say what the verifier refused. */
    size_t len = strlen(log);
    while (len && (log[len - 1] == '\n' || log[len - 1] == ' '))
      log[--len] = 0;
    char *tail = len > 700 ? log + len - 700 : log;
    for (char *c = tail; *c; c++)
      if (*c == '\n')
        *c = ' ';
    if (dslot)
      wbl_closefd(dslot);
    errno = en;
    return wbl_failf(L, "BPF_PROG_LOAD (%d insns)%s%s", count, len ? ", verifier: " : "", tail);
  }

  memset(&a, 0, sizeof a);
  a.target_fd = (uint32_t)dfd;
  a.attach_bpf_fd = (uint32_t)*pslot;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  int r = sys_bpf(BPF_PROG_ATTACH, &a);
  int en = errno;
  wbl_closefd(pslot);
  if (dslot)
    wbl_closefd(dslot);
  errno = en;
  if (r < 0) {
    if (lua_type(L, 1) == LUA_TSTRING)
      return wbl_failf(L, "BPF_PROG_ATTACH %s", lua_tostring(L, 1));
    return wbl_fail(L, "BPF_PROG_ATTACH");
  }
  lua_pushboolean(L, 1);
  return 1;
}

/***
The number of device programs attached to a cgroup2 directory itself, or
with effective, those that run for its processes (its parents' too).
@function query
@tparam string|wbl.fd|int dir
@bool[opt=false] effective
@treturn[1] int count
@return[2] fail, "BPF_PROG_QUERY DIR: message", errno
*/
static int devcg_query(lua_State *L)
{
  int effective = lua_toboolean(L, 2);
  int *dslot;
  int dfd = dir_fd(L, 1, &dslot);
  if (dfd < 0)
    return 3;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.query.target_fd = (uint32_t)dfd;
  a.query.attach_type = BPF_CGROUP_DEVICE;
  a.query.query_flags = effective ? BPF_F_QUERY_EFFECTIVE : 0;
  int r = sys_bpf(BPF_PROG_QUERY, &a);
  int en = errno;
  if (dslot)
    wbl_closefd(dslot);
  errno = en;
  if (r < 0) {
    if (lua_type(L, 1) == LUA_TSTRING)
      return wbl_failf(L, "BPF_PROG_QUERY %s", lua_tostring(L, 1));
    return wbl_fail(L, "BPF_PROG_QUERY");
  }
  lua_pushinteger(L, a.query.prog_cnt);
  return 1;
}

static const luaL_Reg devcg_funcs[] = {
    {"attach", devcg_attach},
    {"query", devcg_query},
    {NULL, NULL}};

int wbl_open_devcg(lua_State *L)
{
  luaL_newlib(L, devcg_funcs);
  return 1;
}
