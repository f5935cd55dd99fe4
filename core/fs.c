/*
 * fs.c - the small file system helpers scripts need, each reporting the
 * kernel's errno: mkdir -p, exact unbuffered file writes (one write(2),
 * as cgroup and /proc files require), stat, mknod, links, directories.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "wbl.h"

static int fs_mkdir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)wbl_optmode(L, 2, 0755);
  if (mkdir(path, mode) < 0)
    return wbl_failf(L, "mkdir %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

/***
mkdir -p: every missing component is made; existing directories are fine.
@string path
@int[opt=0755] mode
*/
static int fs_mkdir_p(lua_State *L)
{
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  mode_t mode = (mode_t)wbl_optmode(L, 2, 0755);
  char buf[PATH_MAX];
  luaL_argcheck(L, n > 0 && n < sizeof buf, 1, "bad path length");
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return wbl_failf(L, "mkdir %s", buf);
      *p = c;
      if (c == 0)
        break;
    }
  }
  struct stat st;
  if (stat(buf, &st) < 0)
    return wbl_failf(L, "mkdir %s", buf);
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return wbl_failf(L, "mkdir %s", buf);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_rmdir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  if (rmdir(path) < 0)
    return wbl_failf(L, "rmdir %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_unlink(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  if (unlink(path) < 0)
    return wbl_failf(L, "unlink %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_rename(lua_State *L)
{
  const char *from = luaL_checkstring(L, 1);
  const char *to = luaL_checkstring(L, 2);
  if (rename(from, to) < 0)
    return wbl_failf(L, "rename %s to %s", from, to);
  lua_pushboolean(L, 1);
  return 1;
}

static const wbl_Flag write_flags[] = {{"append", O_APPEND}, {"creat", O_CREAT},
                                       {"excl", O_EXCL},     {"trunc", O_TRUNC},
                                       {NULL, 0}};

/***
Write data to a file with exactly one write(2) (unbuffered), so the error
is the kernel's answer to that value (cgroup files: EINVAL, EBUSY, ...).
@string path
@string data
@tparam[opt="creat,trunc"] string flags open flags among creat, trunc, append, excl;
  "" to only open an existing file (cgroup and /proc files)
@int[opt=0644] mode
@treturn[1] true
@return[2] fail, "write PATH: message", errno
*/
static int fs_write_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int flags = (int)wbl_optflags(L, 3, write_flags, O_CREAT | O_TRUNC);
  mode_t mode = (mode_t)wbl_optmode(L, 4, 0644);
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | flags, mode);
  if (fd < 0)
    return wbl_failf(L, "open %s", path);
  ssize_t w;
  do
    w = write(fd, data, len);
  while (w < 0 && errno == EINTR);
  int en = errno;
  close(fd);
  if (w < 0) {
    errno = en;
    return wbl_failf(L, "write %s", path);
  }
  if ((size_t)w != len) {
    errno = EIO;
    return wbl_failf(L, "short write %s", path);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/***
Read a whole file (also /proc and cgroup files, whose size is 0).
@treturn[1] string
@return[2] fail, message, errno
*/
static int fs_read_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  int *fd = wbl_newfd(L); /* the buffer may raise: a handle owns the fd */
  if ((*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
    return wbl_failf(L, "open %s", path);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (;;) {
    char *p = luaL_prepbuffsize(&b, 8192);
    ssize_t r = read(*fd, p, 8192);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int en = errno;
      wbl_closefd(fd);
      errno = en;
      return wbl_failf(L, "read %s", path);
    }
    if (r == 0)
      break;
    luaL_addsize(&b, (size_t)r);
  }
  wbl_closefd(fd);
  luaL_pushresult(&b);
  return 1;
}

static const char *type_name(mode_t m)
{
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "link";
  if (S_ISCHR(m)) return "char";
  if (S_ISBLK(m)) return "block";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  return "unknown";
}

static int push_stat(lua_State *L, int r, const char *path, struct stat *st)
{
  if (r < 0)
    return wbl_failf(L, "stat %s", path);
  lua_createtable(L, 0, 12);
  lua_pushstring(L, type_name(st->st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st->st_mode & 07777);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st->st_ino);
  lua_setfield(L, -2, "ino");
  lua_pushinteger(L, (lua_Integer)st->st_dev);
  lua_setfield(L, -2, "dev");
  lua_pushinteger(L, st->st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, st->st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushinteger(L, (lua_Integer)st->st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st->st_nlink);
  lua_setfield(L, -2, "nlink");
  lua_pushinteger(L, major(st->st_rdev));
  lua_setfield(L, -2, "rdev_major");
  lua_pushinteger(L, minor(st->st_rdev));
  lua_setfield(L, -2, "rdev_minor");
  lua_pushinteger(L, (lua_Integer)st->st_mtime);
  lua_setfield(L, -2, "mtime");
  return 1;
}

/* stat(path): { type=, mode=, ino=, dev=, uid=, gid=, size=, ... } */
static int fs_stat(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  return push_stat(L, stat(path, &st), path, &st);
}

static int fs_lstat(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  return push_stat(L, lstat(path, &st), path, &st);
}

/***
mknod(path, type, major, minor, mode): type "c", "b", "p" (fifo) or "f".
*/
static int fs_mknod(lua_State *L)
{
  static const char *const types[] = {"c", "b", "p", "f", NULL};
  static const mode_t typev[] = {S_IFCHR, S_IFBLK, S_IFIFO, S_IFREG};
  const char *path = luaL_checkstring(L, 1);
  mode_t t = typev[luaL_checkoption(L, 2, NULL, types)];
  unsigned int maj = (unsigned int)luaL_optinteger(L, 3, 0);
  unsigned int min = (unsigned int)luaL_optinteger(L, 4, 0);
  mode_t mode = (mode_t)wbl_optmode(L, 5, 0666);
  if (mknod(path, t | mode, makedev(maj, min)) < 0)
    return wbl_failf(L, "mknod %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

/***
Extended attributes of path itself (never a symlink's target): an image
layer's opaque directories (trusted.overlay.opaque), what a commit strips.
getxattr(path, name) -> value or fail (ENODATA: none); setxattr(path,
name, value); removexattr(path, name); listxattr(path) -> { names }.
*/
static int fs_getxattr(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  const char *name = luaL_checkstring(L, 2);
  char buf[4096];
  ssize_t n = lgetxattr(path, name, buf, sizeof buf);
  if (n < 0)
    return wbl_failf(L, "getxattr %s %s", name, path);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int fs_setxattr(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  const char *name = luaL_checkstring(L, 2);
  size_t len;
  const char *value = luaL_checklstring(L, 3, &len);
  if (lsetxattr(path, name, value, len, 0) < 0)
    return wbl_failf(L, "setxattr %s %s", name, path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_removexattr(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  const char *name = luaL_checkstring(L, 2);
  if (lremovexattr(path, name) < 0)
    return wbl_failf(L, "removexattr %s %s", name, path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_listxattr(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  char buf[65536];
  ssize_t n = llistxattr(path, buf, sizeof buf);
  if (n < 0)
    return wbl_failf(L, "listxattr %s", path);
  lua_newtable(L);
  int i = 0;
  for (ssize_t off = 0; off < n; off += (ssize_t)strlen(buf + off) + 1) {
    lua_pushstring(L, buf + off);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

static int fs_symlink(lua_State *L)
{
  const char *target = luaL_checkstring(L, 1);
  const char *path = luaL_checkstring(L, 2);
  if (symlink(target, path) < 0)
    return wbl_failf(L, "symlink %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_readlink(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  char buf[PATH_MAX];
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n < 0)
    return wbl_failf(L, "readlink %s", path);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int fs_realpath(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  char buf[PATH_MAX];
  if (!realpath(path, buf))
    return wbl_failf(L, "realpath %s", path);
  lua_pushstring(L, buf);
  return 1;
}

static int fs_chdir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  if (chdir(path) < 0)
    return wbl_failf(L, "chdir %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_getcwd(lua_State *L)
{
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf))
    return wbl_fail(L, "getcwd");
  lua_pushstring(L, buf);
  return 1;
}

static int fs_chmod(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)wbl_optmode(L, 2, 0);
  luaL_checkany(L, 2);
  if (chmod(path, mode) < 0)
    return wbl_failf(L, "chmod %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

/***
lchown(path, uid, gid): a symlink itself changes owner, not its target.
@string path
@int uid -1: unchanged
@int gid -1: unchanged
@treturn[1] true
@return[2] fail, "lchown PATH: message", errno
@see lchown(2)
*/
static int fs_lchown(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lua_Integer uid = luaL_checkinteger(L, 2);
  lua_Integer gid = luaL_checkinteger(L, 3);
  luaL_argcheck(L, uid >= -1 && uid <= 0xffffffffLL, 2, "bad uid");
  luaL_argcheck(L, gid >= -1 && gid <= 0xffffffffLL, 3, "bad gid");
  if (lchown(path, (uid_t)uid, (gid_t)gid) < 0)
    return wbl_failf(L, "lchown %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

/***
readdir(path): the names in a directory, without "." and "..".  The
directory is read with getdents64(2) on an fd a wbl.fd owns, so a memory
error while the table grows leaks nothing.
@string path
@treturn[1] table names, in the directory's order
@return[2] fail, "opendir PATH: message" or "readdir PATH: message", errno
*/
static int fs_readdir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  int *fd = wbl_newfd(L);
  if ((*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return wbl_failf(L, "opendir %s", path);
  lua_newtable(L);
  int k = 0;
  union {
    struct dirent64 align;
    char buf[16384];
  } u;
  ssize_t n;
  while ((n = getdents64(*fd, u.buf, sizeof u.buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int en = errno;
      wbl_closefd(fd);
      errno = en;
      return wbl_failf(L, "readdir %s", path);
    }
    for (ssize_t off = 0; off < n;) {
      const struct dirent64 *e = (const struct dirent64 *)(u.buf + off);
      off += e->d_reclen;
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      lua_pushstring(L, e->d_name);
      lua_rawseti(L, -2, ++k);
    }
  }
  wbl_closefd(fd);
  return 1;
}

/***
flock(fd, how): how is "ex", "sh" or "un", with ",nb" for non-blocking.
*/
static int fs_flock(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  const char *how = luaL_checkstring(L, 2);
  int op = strncmp(how, "ex", 2) == 0 ? LOCK_EX
         : strncmp(how, "sh", 2) == 0 ? LOCK_SH
         : strncmp(how, "un", 2) == 0 ? LOCK_UN
                                      : -1;
  luaL_argcheck(L, op >= 0, 2, "expected \"ex\", \"sh\" or \"un\"");
  if (strstr(how, "nb"))
    op |= LOCK_NB;
  int r;
  do
    r = flock(fd, op);
  while (r < 0 && errno == EINTR);
  return wbl_result(L, r == 0, "flock");
}

static int fs_umask(lua_State *L)
{
  lua_pushinteger(L, umask((mode_t)luaL_checkinteger(L, 1)));
  return 1;
}

static const luaL_Reg fs_funcs[] = {
    {"chdir", fs_chdir},       {"chmod", fs_chmod},
    {"flock", fs_flock},       {"getcwd", fs_getcwd},
    {"getxattr", fs_getxattr}, {"listxattr", fs_listxattr},
    {"removexattr", fs_removexattr}, {"setxattr", fs_setxattr},
    {"lchown", fs_lchown},     {"lstat", fs_lstat},
    {"mkdir", fs_mkdir},       {"mkdir_p", fs_mkdir_p},
    {"mknod", fs_mknod},       {"read_file", fs_read_file},
    {"readdir", fs_readdir},   {"readlink", fs_readlink},
    {"realpath", fs_realpath}, {"rename", fs_rename},
    {"rmdir", fs_rmdir},       {"stat", fs_stat},
    {"symlink", fs_symlink},   {"umask", fs_umask},
    {"unlink", fs_unlink},     {"write_file", fs_write_file},
    {NULL, NULL}};

int wbl_open_fs(lua_State *L)
{
  luaL_newlib(L, fs_funcs);
  return 1;
}
