/*
 * wbl.c - luaopen_wbl_core: one table with a sub-table per family of
 * WBL_FAMILIES (wbl.h, the one list of them), each also loaded as
 * "wbl.core.NAME", plus errno constants, the version, monotonic_ns and
 * realtime_ns.
 */
#include <errno.h>
#include <time.h>

#include "wbl.h"

#define FAMILY(name) {#name, wbl_open_##name},
static const luaL_Reg families[] = {WBL_FAMILIES(FAMILY){NULL, NULL}};
#undef FAMILY

#define E(name) {#name, name}
static const struct {
  const char *name;
  int value;
} errnos[] = {E(E2BIG),     E(EACCES),    E(EADDRINUSE), E(EADDRNOTAVAIL), E(EAGAIN),
              E(EBADF),     E(EBUSY),     E(ECHILD),     E(ECONNREFUSED), E(EEXIST),
              E(EFAULT),    E(EINTR),     E(EINVAL),     E(EIO),
              E(EISDIR),    E(ELOOP),     E(EMFILE),     E(ENAMETOOLONG),
              E(ENODEV),    E(ENOENT),    E(ENOEXEC),    E(ENOMEM),
              E(ENOSPC),    E(ENOSYS),    E(ENOTDIR),    E(ENOTEMPTY),
              E(ENOTSUP),   E(ENOTTY),    E(ENXIO),     E(EOPNOTSUPP), E(EPERM),
              E(EPIPE),     E(EROFS),     E(ESRCH),     E(ETIMEDOUT), E(ETXTBSY),    E(EXDEV),
              {NULL, 0}};

/* core.realtime_ns(): CLOCK_REALTIME in nanoseconds since the epoch (log
 * timestamps, started/finished times). */
static int core_realtime_ns(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
  return 1;
}

/* core.monotonic_ns(): CLOCK_MONOTONIC in nanoseconds (for WBL_TRACE). */
static int core_monotonic_ns(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
  return 1;
}

int luaopen_wbl_core(lua_State *L)
{
  lua_newtable(L);
  for (const luaL_Reg *f = families; f->name; f++) {
    lua_pushfstring(L, "wbl.core.%s", f->name);
    luaL_requiref(L, lua_tostring(L, -1), f->func, 0);
    lua_setfield(L, -3, f->name);
    lua_pop(L, 1);
  }
  lua_newtable(L);
  for (int i = 0; errnos[i].name; i++) {
    lua_pushinteger(L, errnos[i].value);
    lua_setfield(L, -2, errnos[i].name);
  }
  lua_setfield(L, -2, "errno");
  lua_pushliteral(L, WBL_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushcfunction(L, core_monotonic_ns);
  lua_setfield(L, -2, "monotonic_ns");
  lua_pushcfunction(L, core_realtime_ns);
  lua_setfield(L, -2, "realtime_ns");
  return 1;
}
