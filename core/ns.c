/*
 * ns.c - namespaces: unshare, setns, hostnames, identities.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wbl.h"

extern const wbl_Flag wbl_ns_flags[];

/***
unshare(2).
@tparam string|table ns e.g. "net,mnt,uts"
@treturn[1] true
@return[2] fail, message, errno
*/
static int ns_unshare(lua_State *L)
{
  int flags = (int)wbl_checkflags(L, 1, wbl_ns_flags);
  return wbl_result(L, unshare(flags) == 0, "unshare");
}

/***
setns(2) by path (e.g. "/proc/42/ns/net") or by fd: a namespace's fd, or
a pidfd (proc.pidfd_open; Linux 5.8), whose process's namespaces of every
type listed are joined at once (the kernel says EINVAL before 5.8).
@tparam string|wbl.fd|int ns
@tparam[opt] string|table type a namespace name, checked by the kernel; for
  a pidfd, the names to join ("mnt,net,uts", { "ipc", "pid" })
@treturn[1] true
@return[2] fail, message, errno
*/
static int ns_setns(lua_State *L)
{
  int type = (int)wbl_optflags(L, 2, wbl_ns_flags, 0);
  if (lua_type(L, 1) == LUA_TSTRING) {
    const char *path = lua_tostring(L, 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return wbl_failf(L, "setns %s", path);
    int r = setns(fd, type);
    int en = errno;
    close(fd);
    errno = en;
    if (r < 0)
      return wbl_failf(L, "setns %s", path);
    lua_pushboolean(L, 1);
    return 1;
  }
  return wbl_result(L, setns(wbl_checkfd(L, 1), type) == 0, "setns");
}

static int ns_sethostname(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  return wbl_result(L, sethostname(s, n) == 0, "sethostname");
}

static int ns_setdomainname(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  return wbl_result(L, setdomainname(s, n) == 0, "setdomainname");
}

static int ns_gethostname(lua_State *L)
{
  char buf[256];
  if (gethostname(buf, sizeof buf) < 0)
    return wbl_fail(L, "gethostname");
  buf[sizeof buf - 1] = 0;
  lua_pushstring(L, buf);
  return 1;
}

/***
The identity of a process's namespace: the inode (and device) of
/proc/PID/ns/NAME.  Two processes share a namespace iff both are equal.
@int pid 0 for self
@string name "net", "pid", ...
@treturn[1] int inode
@treturn[1] int device
@return[2] fail, message, errno
*/
static int ns_id(lua_State *L)
{
  lua_Integer pid = luaL_checkinteger(L, 1);
  const char *name = luaL_checkstring(L, 2);
  char path[64];
  if (pid == 0)
    snprintf(path, sizeof path, "/proc/self/ns/%s", name);
  else
    snprintf(path, sizeof path, "/proc/%lld/ns/%s", (long long)pid, name);
  struct stat st;
  if (stat(path, &st) < 0)
    return wbl_failf(L, "stat %s", path);
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  lua_pushinteger(L, (lua_Integer)st.st_dev);
  return 2;
}

static const luaL_Reg ns_funcs[] = {{"gethostname", ns_gethostname},
                                    {"id", ns_id},
                                    {"setdomainname", ns_setdomainname},
                                    {"sethostname", ns_sethostname},
                                    {"setns", ns_setns},
                                    {"unshare", ns_unshare},
                                    {NULL, NULL}};

int wbl_open_ns(lua_State *L)
{
  luaL_newlib(L, ns_funcs);
  lua_newtable(L);
  for (const wbl_Flag *f = wbl_ns_flags; f->name; f++) {
    lua_pushinteger(L, (lua_Integer)f->flag);
    lua_setfield(L, -2, f->name);
  }
  lua_setfield(L, -2, "flags");
  return 1;
}
