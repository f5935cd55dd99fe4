/*
 * inroot.c - paths resolved inside a root, and mounts onto them.
 *
 *   inroot.open(root, path [, how])      openat2(RESOLVE_IN_ROOT)
 *   inroot.bind(source, target [, flags]) open_tree + mount_setattr + move_mount
 *   inroot.tree(source [, flags [, userns]])  the first two: a detached mount
 *   inroot.attach(tree, target)               the last
 *   inroot.mount(fstype, target [, data [, flags]])  fsopen ... move_mount
 *
 * An image is data from anywhere: a symlink in it (/data -> /etc, or
 * ../../../etc) must not carry a mount target out of the container's
 * root.  openat2 with RESOLVE_IN_ROOT resolves every symlink and ".." as
 * if root were "/", and the result is an fd, not a path: the mounts below
 * are attached to that fd (move_mount with MOVE_MOUNT_T_EMPTY_PATH), so
 * nothing is resolved twice.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wbl.h"

#define RESOLVE (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

static int openat2_in(int rootfd, const char *path, int flags, mode_t mode)
{
  struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                         .mode = (flags & O_CREAT) ? mode : 0,
                         .resolve = RESOLVE};
  int fd;
  do
    fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

/* Make the missing directories of path (relative to rootfd) one by one,
 * each parent resolved in the root afresh, so a symlink met on the way
 * is followed inside the root.  Returns 0 or -1 with errno; bad names
 * the prefix that failed. */
static int mkdirs_in(int rootfd, const char *path, char *bad, size_t size)
{
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (n >= sizeof buf) {
    errno = ENAMETOOLONG;
    snprintf(bad, size, "%s", path);
    return -1;
  }
  memcpy(buf, path, n + 1);
  for (char *p = buf;; p++) {
    if (*p != '/' && *p != 0)
      continue;
    char c = *p;
    *p = 0;
    if (p > buf && p[-1] != '/') {
      int fd = openat2_in(rootfd, buf, O_PATH | O_DIRECTORY, 0);
      if (fd < 0 && errno == ENOENT) {
        char *slash = strrchr(buf, '/');
        const char *name = slash ? slash + 1 : buf;
        int dfd = rootfd;
        if (slash) {
          *slash = 0;
          dfd = openat2_in(rootfd, *buf ? buf : ".", O_PATH | O_DIRECTORY, 0);
          *slash = '/';
        }
        if (dfd < 0 || (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)) {
          int en = errno;
          if (dfd >= 0 && dfd != rootfd)
            close(dfd);
          snprintf(bad, size, "%s", buf);
          errno = en;
          return -1;
        }
        if (dfd != rootfd)
          close(dfd);
        fd = openat2_in(rootfd, buf, O_PATH | O_DIRECTORY, 0);
      }
      if (fd < 0) {
        snprintf(bad, size, "%s", buf);
        return -1;
      }
      close(fd);
    }
    *p = c;
    if (c == 0)
      return 0;
  }
}

/***
Open path inside root, every symlink and ".." resolved as if root were "/".
@function open
@string root the root directory (a host path)
@string path a path inside it
@tparam[opt] string how nil: it must exist; "dir": make missing
  directories (mkdir -p inside the root); "file": make missing parent
  directories and an empty file
@treturn[1] wbl.fd an O_PATH fd (for "file": read-only)
@treturn[1] string where it is on the host (/proc/self/fd's readlink)
@return[2] fail, "resolve PATH in ROOT: message", errno
@see openat2(2)
*/
static int inroot_open(lua_State *L)
{
  static const char *const hows[] = {"exist", "dir", "file", NULL};
  const char *root = luaL_checkstring(L, 1);
  const char *path = luaL_checkstring(L, 2);
  int how = luaL_checkoption(L, 3, "exist", hows);
  const char *rel = path;
  while (*rel == '/')
    rel++;
  if (*rel == 0)
    rel = ".";
  int *h = wbl_newfd(L); /* before any fd is opened */
  int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return wbl_failf(L, "open root %s", root);
  char bad[PATH_MAX] = "";
  int fd = -1;
  /* "dir" and "file": the whole path first (it is there at almost every
   * mount: one openat2); only when that fails, each directory on the way,
   * made where missing (and the reason, if any, named as mkdirs_in finds it). */
  if (how == 1) {
    fd = openat2_in(rootfd, rel, O_PATH | O_DIRECTORY, 0);
    if (fd < 0 && mkdirs_in(rootfd, rel, bad, sizeof bad) == 0)
      fd = openat2_in(rootfd, rel, O_PATH | O_DIRECTORY, 0);
  } else if (how == 2) {
    fd = openat2_in(rootfd, rel, O_RDONLY | O_CREAT | O_NOCTTY | O_NONBLOCK, 0644);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", rel);
    char *slash = strrchr(dir, '/');
    if (fd < 0 && slash) {
      *slash = 0;
      if (mkdirs_in(rootfd, dir, bad, sizeof bad) == 0)
        fd = openat2_in(rootfd, rel, O_RDONLY | O_CREAT | O_NOCTTY | O_NONBLOCK, 0644);
    }
  } else {
    fd = openat2_in(rootfd, rel, O_PATH, 0);
  }
  int en = errno;
  close(rootfd);
  if (fd < 0) {
    errno = en;
    if (errno == ENOSYS)
      return wbl_failf(L, "resolve %s in %s: openat2 (Linux 5.6) is missing", path, root);
    if (*bad)
      return wbl_failf(L, "mkdir %s in %s", bad, root);
    return wbl_failf(L, "resolve %s in %s", path, root);
  }
  *h = fd;
  char link[64], real[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t r = readlink(link, real, sizeof real - 1);
  if (r < 0)
    lua_pushnil(L);
  else
    lua_pushlstring(L, real, (size_t)r);
  return 2;
}

static const wbl_Flag bind_flags[] = {{"nodev", MOUNT_ATTR_NODEV},
                                      {"noexec", MOUNT_ATTR_NOEXEC},
                                      {"nosuid", MOUNT_ATTR_NOSUID},
                                      {"rec", 1UL << 40},
                                      {"ro", MOUNT_ATTR_RDONLY},
                                      {NULL, 0}};

/* A detached copy of the mount at src (open_tree OPEN_TREE_CLONE; with rec
 * its submounts too), attrs set on it and, when nsfd >= 0, its ids mapped
 * through that user namespace.  Returns the fd, or -1 with errno and *what
 * the call that failed. */
static int make_tree(const char *src, int rec, unsigned int attrs, int nsfd,
                     const char **what)
{
  int tree = open_tree(AT_FDCWD, src,
                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0));
  if (tree < 0) {
    *what = "open_tree";
    return -1;
  }
  if (attrs || nsfd >= 0) {
    struct mount_attr a = {.attr_set = attrs};
    if (nsfd >= 0) {
      a.attr_set |= MOUNT_ATTR_IDMAP;
      a.userns_fd = (unsigned long long)nsfd;
    }
    if (mount_setattr(tree, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &a, sizeof a) < 0) {
      int en = errno;
      close(tree);
      errno = en;
      *what = nsfd >= 0 ? "mount_setattr idmap" : "mount_setattr";
      return -1;
    }
  }
  return tree;
}

/* move_mount the detached tree onto the target at arg (a path or an fd). */
static int attach_tree(lua_State *L, int tree, int arg)
{
  const char *tpath = lua_type(L, arg) == LUA_TSTRING ? lua_tostring(L, arg) : NULL;
  int tfd = tpath ? AT_FDCWD : wbl_checkfd(L, arg);
  return move_mount(tree, "", tfd, tpath ? tpath : "",
                    MOVE_MOUNT_F_EMPTY_PATH | (tpath ? 0 : MOVE_MOUNT_T_EMPTY_PATH));
}

/***
Bind source onto target (an fd from inroot.open, or a path).  With "rec"
the submounts come too, and "ro" (or nosuid, ...) then applies to every
one of them (mount_setattr with AT_RECURSIVE).
@function bind
@string source
@tparam wbl.fd|string target
@tparam[opt] string flags among rec, ro, nosuid, nodev, noexec
@treturn[1] true
@return[2] fail, "bind SOURCE: message", errno
@see open_tree(2), mount_setattr(2), move_mount(2)
*/
static int inroot_bind(lua_State *L)
{
  const char *src = luaL_checkstring(L, 1);
  if (lua_type(L, 2) != LUA_TSTRING)
    wbl_checkfd(L, 2);
  unsigned long flags = wbl_optflags(L, 3, bind_flags, 0);
  const char *what;
  int tree = make_tree(src, (flags & (1UL << 40)) != 0, (unsigned int)(flags & ~(1UL << 40)),
                       -1, &what);
  if (tree < 0)
    return wbl_failf(L, "bind %s: %s", src, what);
  int r = attach_tree(L, tree, 2);
  int en = errno;
  close(tree);
  errno = en;
  if (r < 0)
    return wbl_failf(L, "bind %s: move_mount", src);
  lua_pushboolean(L, 1);
  return 1;
}

/***
A detached copy of the mount at source, for inroot.attach later (maybe in
another mount namespace: a child cloned after this call inherits the fd).
The attributes are set on the copy here, by the caller: a process in a
user namespace may attach it but could not have opened the source (a
directory it cannot reach) nor mapped its ids.
@function tree
@string source a directory or file
@tparam[opt] string flags among rec (the submounts too), ro, nosuid,
  nodev, noexec (with rec: for every submount)
@tparam[opt] wbl.fd|int userns a user namespace (/proc/PID/ns/user): the
  copy is idmapped through it (MOUNT_ATTR_IDMAP, Linux 5.12; the file
  system must allow it): a file owned by N on disk shows as owned by
  what N maps to in it, and what a process of that namespace writes is
  stored with its ids inside the namespace
@treturn[1] wbl.fd the detached mount (close-on-exec)
@return[2] fail, "tree SOURCE: open_tree|mount_setattr: message", errno
@see open_tree(2), mount_setattr(2)
*/
static int inroot_tree(lua_State *L)
{
  const char *src = luaL_checkstring(L, 1);
  unsigned long flags = wbl_optflags(L, 2, bind_flags, 0);
  int nsfd = lua_isnoneornil(L, 3) ? -1 : wbl_checkfd(L, 3);
  int *h = wbl_newfd(L);
  const char *what;
  int tree = make_tree(src, (flags & (1UL << 40)) != 0, (unsigned int)(flags & ~(1UL << 40)),
                       nsfd, &what);
  if (tree < 0)
    return wbl_failf(L, "tree %s: %s", src, what);
  *h = tree;
  return 1;
}

/***
Attach a detached mount (from inroot.tree) onto target (an fd from
inroot.open, or a path).  A tree is attached once.
@function attach
@tparam wbl.fd tree
@tparam wbl.fd|string target
@treturn[1] true
@return[2] fail, "attach to TARGET: move_mount: message", errno
@see move_mount(2)
*/
static int inroot_attach(lua_State *L)
{
  int tree = wbl_checkfd(L, 1);
  if (lua_type(L, 2) != LUA_TSTRING)
    wbl_checkfd(L, 2);
  if (attach_tree(L, tree, 2) < 0)
    return wbl_failf(L, "attach to %s: move_mount",
                     lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "fd");
  lua_pushboolean(L, 1);
  return 1;
}

/***
Mount a new file system of fstype on target (an fd from inroot.open, or
a path), its options given one by one to fsconfig.
@function mount
@string fstype e.g. "tmpfs"
@tparam wbl.fd|string target
@tparam[opt] string data "key=value,flag,...", e.g. "size=64m,mode=1777"
@tparam[opt] string flags among ro, nosuid, nodev, noexec
@treturn[1] true
@return[2] fail, "mount FSTYPE: message [kernel's log]", errno
@see fsopen(2), fsconfig(2), fsmount(2)
*/
static int inroot_mount(lua_State *L)
{
  const char *fstype = luaL_checkstring(L, 1);
  const char *tpath = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  int tfd = tpath ? AT_FDCWD : wbl_checkfd(L, 2);
  const char *data = luaL_optstring(L, 3, "");
  unsigned long flags = wbl_optflags(L, 4, bind_flags, 0);
  luaL_argcheck(L, !(flags & (1UL << 40)), 4, "rec is for bind");
  char what[512];
  int fsfd = fsopen(fstype, FSOPEN_CLOEXEC), mfd = -1, en;
  if (fsfd < 0)
    return wbl_failf(L, "mount %s: fsopen", fstype);
  snprintf(what, sizeof what, "mount %s: fsconfig source", fstype);
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", fstype, 0) < 0)
    goto fail;
  while (*data) {
    char opt[256], *eq;
    size_t n = strcspn(data, ",");
    if (n > 0) {
      snprintf(opt, sizeof opt, "%.*s", (int)n, data);
      snprintf(what, sizeof what, "mount %s: fsconfig %s", fstype, opt);
      int r = (eq = strchr(opt, '='))
                  ? (*eq = 0, fsconfig(fsfd, FSCONFIG_SET_STRING, opt, eq + 1, 0))
                  : fsconfig(fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
      if (r < 0)
        goto fail;
    }
    data += n;
    if (*data)
      data++;
  }
  snprintf(what, sizeof what, "mount %s: create", fstype);
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    goto fail;
  snprintf(what, sizeof what, "mount %s: fsmount", fstype);
  if ((mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, (unsigned int)flags)) < 0)
    goto fail;
  snprintf(what, sizeof what, "mount %s: move_mount", fstype);
  if (move_mount(mfd, "", tfd, tpath ? tpath : "",
                 MOVE_MOUNT_F_EMPTY_PATH | (tpath ? 0 : MOVE_MOUNT_T_EMPTY_PATH)) < 0)
    goto fail;
  close(mfd);
  close(fsfd);
  lua_pushboolean(L, 1);
  return 1;
fail:
  en = errno;
  {
    char line[256];
    ssize_t r;
    size_t used = strlen(what);
    while (used + 4 < sizeof what && (r = read(fsfd, line, sizeof line - 1)) > 0) {
      /* "e tmpfs: Bad value for 'size'\n": one line, without the level */
      while (r > 0 && line[r - 1] == '\n')
        r--;
      line[r] = 0;
      for (char *c = line; *c; c++)
        if (*c == '\n')
          *c = ' ';
      const char *msg = line[0] && line[1] == ' ' ? line + 2 : line;
      used += (size_t)snprintf(what + used, sizeof what - used, " [%s]", msg);
    }
  }
  if (mfd >= 0)
    close(mfd);
  close(fsfd);
  errno = en;
  return wbl_failf(L, "%s", what);
}

static const luaL_Reg inroot_funcs[] = {{"attach", inroot_attach},
                                        {"bind", inroot_bind},
                                        {"mount", inroot_mount},
                                        {"open", inroot_open},
                                        {"tree", inroot_tree},
                                        {NULL, NULL}};

int wbl_open_inroot(lua_State *L)
{
  luaL_newlib(L, inroot_funcs);
  return 1;
}
