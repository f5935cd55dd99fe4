/*
 * caps.c - capabilities: the three sets of capget/capset, the bounding
 * and ambient sets, securebits, keep_caps, cap_last_cap.
 *
 * A capability is named as the kernel's headers name it, "CAP_CHOWN"
 * ("CHOWN" and any case too), or given by number (for one newer than the
 * table below; caps.get reports such a bit as its number).  Which sets a
 * process gets is policy: lua/wbl/caps.lua.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>

#include "wbl.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* Every capability name, in number order (CAP_CHOWN is 0).  The same list
 * as wbl.spec.all_capabilities (a spec compares them). */
static const char *const cap_names[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};
#define NCAPS ((int)(sizeof cap_names / sizeof cap_names[0]))

/* The securebits, as prctl(PR_SET_SECUREBITS) takes them. */
static const wbl_Flag secbits[] = {
    {"noroot", SECBIT_NOROOT},
    {"noroot_locked", SECBIT_NOROOT_LOCKED},
    {"no_setuid_fixup", SECBIT_NO_SETUID_FIXUP},
    {"no_setuid_fixup_locked", SECBIT_NO_SETUID_FIXUP_LOCKED},
    {"keep_caps", SECBIT_KEEP_CAPS},
    {"keep_caps_locked", SECBIT_KEEP_CAPS_LOCKED},
    {"no_cap_ambient_raise", SECBIT_NO_CAP_AMBIENT_RAISE},
    {"no_cap_ambient_raise_locked", SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED},
    {NULL, 0}};

/* A capability argument: its name or number; anything else raises. */
static int checkcap(lua_State *L, int arg)
{
  if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, arg);
    luaL_argcheck(L, n >= 0 && n < 64, arg, "capability number out of range");
    return (int)n;
  }
  const char *s = luaL_checkstring(L, arg);
  const char *bare = strncasecmp(s, "CAP_", 4) == 0 ? s + 4 : s;
  for (int i = 0; i < NCAPS; i++)
    if (strcasecmp(cap_names[i] + 4, bare) == 0)
      return i;
  return luaL_argerror(L, arg, lua_pushfstring(L, "unknown capability '%s'", s));
}

/* The name of capability n, for messages and results. */
static void pushcap(lua_State *L, int n)
{
  if (n < NCAPS)
    lua_pushstring(L, cap_names[n]);
  else
    lua_pushinteger(L, n);
}

static const char *capname(int n, char *buf, size_t len)
{
  if (n < NCAPS)
    return cap_names[n];
  snprintf(buf, len, "capability %d", n);
  return buf;
}

/* The set of capabilities in a list at t[field] (absent: none) as a mask. */
static uint64_t checkset(lua_State *L, int t, const char *field)
{
  uint64_t mask = 0;
  int ty = lua_getfield(L, t, field);
  if (ty != LUA_TNIL) {
    if (ty != LUA_TTABLE)
      luaL_error(L, "bad field '%s' (a list of capabilities expected, got %s)", field,
                 luaL_typename(L, -1));
    int list = lua_gettop(L);
    lua_Integer len = luaL_len(L, list);
    for (lua_Integer i = 1; i <= len; i++) {
      lua_geti(L, list, i);
      mask |= UINT64_C(1) << checkcap(L, lua_gettop(L));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return mask;
}

/* Push the capabilities of a mask as a list, in number order. */
static void pushset(lua_State *L, uint64_t mask)
{
  lua_newtable(L);
  int k = 0;
  for (int i = 0; i < 64; i++)
    if (mask & (UINT64_C(1) << i)) {
      pushcap(L, i);
      lua_rawseti(L, -2, ++k);
    }
}

/* The highest capability the running kernel has: cap_last_cap, or, when
 * /proc is not there (before it is mounted, or masked), the highest that
 * PR_CAPBSET_READ does not reject.  Found once per process (and kept by
 * its forks): the kernel's number does not change while it runs, and
 * dropping the bounding set asks for it once per capability. */
static int last_cap(void)
{
  static int known = -1;
  if (known >= 0)
    return known;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  int n = -1;
  if (f) {
    if (fscanf(f, "%d", &n) != 1)
      n = -1;
    fclose(f);
  }
  if (!(n >= 0 && n < 64))
    for (n = 0; n < 63 && prctl(PR_CAPBSET_READ, n + 1, 0, 0, 0) >= 0; n++)
      ;
  return known = n;
}

/***
The capability sets of a process.
@function get
@int[opt=0] pid a process (0: this one)
@treturn[1] table { effective = {names...}, permitted = {...},
  inheritable = {...} }, each in number order
@return[2] fail, "capget PID: message", errno (ESRCH: no such process)
@see capget(2)
*/
static int caps_get(lua_State *L)
{
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3,
                                       (int)luaL_optinteger(L, 1, 0)};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0)
    return wbl_failf(L, "capget %d", h.pid);
  lua_createtable(L, 0, 3);
  pushset(L, d[0].effective | (uint64_t)d[1].effective << 32);
  lua_setfield(L, -2, "effective");
  pushset(L, d[0].permitted | (uint64_t)d[1].permitted << 32);
  lua_setfield(L, -2, "permitted");
  pushset(L, d[0].inheritable | (uint64_t)d[1].inheritable << 32);
  lua_setfield(L, -2, "inheritable");
  return 1;
}

/***
Set this thread's three capability sets at once (capset, version 3: all
64 bits).  A set left out is empty.
@function set
@tparam table sets { effective = {names...}, permitted = {...},
  inheritable = {...} }
@treturn[1] true
@return[2] fail, "capset: message", errno (EPERM: permitted raised above
  what it was, effective beyond permitted, or inheritable beyond the
  bounding set or, without CAP_SETPCAP, beyond permitted)
@see capset(2)
*/
static int caps_set(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  uint64_t eff = checkset(L, 1, "effective");
  uint64_t prm = checkset(L, 1, "permitted");
  uint64_t inh = checkset(L, 1, "inheritable");
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {
      {(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
      {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)}};
  return wbl_result(L, syscall(SYS_capset, &h, d) == 0, "capset");
}

/***
Drop a capability from this thread's bounding set, for good.  One the
running kernel does not have (above cap_last_cap) is not there to drop:
true, nothing done.
@function bounding_drop
@tparam string|int cap "CAP_SYS_ADMIN", "SYS_ADMIN", ...
@treturn[1] true
@return[2] fail, "bounding_drop CAP_X: message", errno (EPERM: no
  CAP_SETPCAP)
@see prctl(2) PR_CAPBSET_DROP
*/
static int caps_bounding_drop(lua_State *L)
{
  int cap = checkcap(L, 1);
  char buf[32];
  if (cap > last_cap()) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
    return wbl_failf(L, "bounding_drop %s", capname(cap, buf, sizeof buf));
  lua_pushboolean(L, 1);
  return 1;
}

/***
Is a capability in this thread's bounding set?  (false for one the kernel
does not have)
@function bounding_has
@tparam string|int cap
@treturn boolean
@see prctl(2) PR_CAPBSET_READ
*/
static int caps_bounding_has(lua_State *L)
{
  int cap = checkcap(L, 1);
  lua_pushboolean(L, prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0);
  return 1;
}

/***
Raise a capability in this thread's ambient set: kept across exec of a
file without file capabilities, even by a non-root user.
@function ambient_raise
@tparam string|int cap
@treturn[1] true
@return[2] fail, "ambient_raise CAP_X: message", errno (EPERM: not both
  permitted and inheritable, or securebit no_cap_ambient_raise; EINVAL: a
  capability the kernel does not have)
@see prctl(2) PR_CAP_AMBIENT_RAISE
*/
static int caps_ambient_raise(lua_State *L)
{
  int cap = checkcap(L, 1);
  char buf[32];
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
    return wbl_failf(L, "ambient_raise %s", capname(cap, buf, sizeof buf));
  lua_pushboolean(L, 1);
  return 1;
}

/***
Empty this thread's ambient set.
@function ambient_clear
@treturn[1] true
@return[2] fail, "ambient_clear: message", errno (EINVAL: a kernel before
  4.3, which has no ambient set)
@see prctl(2) PR_CAP_AMBIENT_CLEAR_ALL
*/
static int caps_ambient_clear(lua_State *L)
{
  return wbl_result(L, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0,
                    "ambient_clear");
}

/***
Is a capability in this thread's ambient set?
@function ambient_has
@tparam string|int cap
@treturn[1] boolean
@return[2] fail, "ambient_has CAP_X: message", errno (EINVAL: a capability
  the kernel does not have, or no ambient set)
@see prctl(2) PR_CAP_AMBIENT_IS_SET
*/
static int caps_ambient_has(lua_State *L)
{
  int cap = checkcap(L, 1);
  char buf[32];
  int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
  if (r < 0)
    return wbl_failf(L, "ambient_has %s", capname(cap, buf, sizeof buf));
  lua_pushboolean(L, r);
  return 1;
}

/***
This thread's securebits: with no argument, read them; with one, set them
to exactly those (the ones left out are cleared).
@function securebits
@tparam[opt] string|table bits names: "keep_caps", "no_setuid_fixup",
  "noroot", "no_cap_ambient_raise", and each with "_locked" (it can then
  never change again), as "a,b" or { "a", "b" }
@treturn[1] table the names set (reading), or true (setting)
@return[2] fail, "securebits: message", errno (EPERM: no CAP_SETPCAP, or
  changing a locked bit)
@see prctl(2) PR_SET_SECUREBITS, capabilities(7)
*/
static int caps_securebits(lua_State *L)
{
  if (!lua_isnoneornil(L, 1)) {
    unsigned long bits = wbl_checkflags(L, 1, secbits);
    return wbl_result(L, prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) == 0, "securebits");
  }
  int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
  if (bits < 0)
    return wbl_fail(L, "securebits");
  lua_newtable(L);
  int k = 0;
  for (const wbl_Flag *f = secbits; f->name; f++)
    if ((unsigned long)bits & f->flag) {
      lua_pushstring(L, f->name);
      lua_rawseti(L, -2, ++k);
    }
  return 1;
}

/***
keep_caps: whether this thread keeps its permitted set when setuid takes
all its uids from 0 (cleared again by exec).  With no argument, read it.
@function keep_caps
@tparam[opt] boolean on
@treturn[1] boolean (reading) or true (setting)
@return[2] fail, "keep_caps: message", errno (EPERM: securebit
  keep_caps_locked)
@see prctl(2) PR_SET_KEEPCAPS
*/
static int caps_keep_caps(lua_State *L)
{
  if (lua_isnoneornil(L, 1)) {
    int r = prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0);
    if (r < 0)
      return wbl_fail(L, "keep_caps");
    lua_pushboolean(L, r);
    return 1;
  }
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  return wbl_result(L, prctl(PR_SET_KEEPCAPS, lua_toboolean(L, 1), 0, 0, 0) == 0,
                    "keep_caps");
}

/***
The number of the highest capability the running kernel has (40 is
CAP_CHECKPOINT_RESTORE): /proc/sys/kernel/cap_last_cap, else found by
asking the bounding set.
@function last_cap
@treturn int
*/
static int caps_last_cap(lua_State *L)
{
  lua_pushinteger(L, last_cap());
  return 1;
}

static const luaL_Reg caps_funcs[] = {
    {"ambient_clear", caps_ambient_clear},
    {"ambient_has", caps_ambient_has},
    {"ambient_raise", caps_ambient_raise},
    {"bounding_drop", caps_bounding_drop},
    {"bounding_has", caps_bounding_has},
    {"get", caps_get},
    {"keep_caps", caps_keep_caps},
    {"last_cap", caps_last_cap},
    {"securebits", caps_securebits},
    {"set", caps_set},
    {NULL, NULL}};

int wbl_open_caps(lua_State *L)
{
  luaL_newlib(L, caps_funcs);
  lua_createtable(L, NCAPS, 0);
  for (int i = 0; i < NCAPS; i++) {
    lua_pushstring(L, cap_names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "names"); /* number order: names[n + 1] is capability n */
  return 1;
}
