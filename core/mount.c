/*
 * mount.c - mount, umount2, pivot_root.
 *
 * Flags are names: "bind,rec", "remount,bind,ro", "rec,private" ...  The
 * order of the steps (private first, bind, remount read-only) is the
 * scripts' business, not this file's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wbl.h"

static const wbl_Flag mount_flags[] = {
    {"bind", MS_BIND},         {"dirsync", MS_DIRSYNC},
    {"lazytime", MS_LAZYTIME}, {"mandlock", MS_MANDLOCK},
    {"move", MS_MOVE},         {"noatime", MS_NOATIME},
    {"nodev", MS_NODEV},       {"nodiratime", MS_NODIRATIME},
    {"noexec", MS_NOEXEC},     {"nosuid", MS_NOSUID},
    {"private", MS_PRIVATE},   {"rdonly", MS_RDONLY},
    {"ro", MS_RDONLY},         {"rec", MS_REC},
    {"relatime", MS_RELATIME}, {"remount", MS_REMOUNT},
    {"shared", MS_SHARED},     {"silent", MS_SILENT},
    {"slave", MS_SLAVE},       {"strictatime", MS_STRICTATIME},
    {"sync", MS_SYNCHRONOUS},  {"unbindable", MS_UNBINDABLE},
    {NULL, 0}};

static const wbl_Flag umount_flags[] = {{"detach", MNT_DETACH},
                                        {"expire", MNT_EXPIRE},
                                        {"force", MNT_FORCE},
                                        {"nofollow", UMOUNT_NOFOLLOW},
                                        {NULL, 0}};

/***
mount(source, target, fstype, flags, data).
@tparam string|nil source
@string target
@tparam string|nil fstype
@tparam[opt] string|table flags e.g. "nosuid,nodev,noexec"
@tparam[opt] string data filesystem options, e.g. "mode=755,size=64k"
@treturn[1] true
@return[2] fail, "mount TARGET: message", errno
@see mount(2)
*/
static int mount_mount(lua_State *L)
{
  const char *src = luaL_optstring(L, 1, NULL);
  const char *target = luaL_checkstring(L, 2);
  const char *fstype = luaL_optstring(L, 3, NULL);
  unsigned long flags = wbl_optflags(L, 4, mount_flags, 0);
  const char *data = luaL_optstring(L, 5, NULL);
  if (mount(src ? src : "none", target, fstype, flags, data) < 0)
    return wbl_failf(L, "mount %s on %s", src ? src : (fstype ? fstype : "none"), target);
  lua_pushboolean(L, 1);
  return 1;
}

/***
umount2(target, flags).
@string target
@tparam[opt] string flags "detach", ...
*/
static int mount_umount2(lua_State *L)
{
  const char *target = luaL_checkstring(L, 1);
  int flags = (int)wbl_optflags(L, 2, umount_flags, 0);
  if (umount2(target, flags) < 0)
    return wbl_failf(L, "umount %s", target);
  lua_pushboolean(L, 1);
  return 1;
}

/***
pivot_root(new_root, put_old).  pivot_root(".", ".") stacks the old root
on the new one, to be detached with umount2(".", "detach").
@see pivot_root(2)
*/
static int mount_pivot_root(lua_State *L)
{
  const char *nr = luaL_checkstring(L, 1);
  const char *old = luaL_checkstring(L, 2);
  if (syscall(SYS_pivot_root, nr, old) < 0)
    return wbl_failf(L, "pivot_root %s", nr);
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg mount_funcs[] = {{"mount", mount_mount},
                                       {"pivot_root", mount_pivot_root},
                                       {"umount2", mount_umount2},
                                       {NULL, NULL}};

int wbl_open_mount(lua_State *L)
{
  luaL_newlib(L, mount_funcs);
  return 1;
}
