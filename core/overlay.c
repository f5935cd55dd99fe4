/*
 * overlay.c - overlay mounts from a list of layers.
 *
 *   overlay.mount(lowers, upper, work, target [, flags])
 *   overlay.escape(path), overlay.options(lowers, upper, work)
 *
 * mount(2) takes the options as one string of at most a page, with the
 * characters overlayfs treats specially (',' between options, ':' between
 * lower layers, '\' the escape) escaped.  Sixty image layers with long
 * paths do not fit, so the new mount API is used where the kernel has it:
 * fsopen("overlay"), one fsconfig("lowerdir+") per layer (Linux 6.8), the
 * layer given as an O_PATH fd (Linux 6.13) or else as a string, then
 * fsmount and move_mount.  A kernel without fsopen or without "lowerdir+"
 * gets mount(2) with the escaped string, and a clear E2BIG when that
 * string cannot fit in a page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "wbl.h"

/* Flags of our own, beside the MOUNT_ATTR_* bits: use mount(2); the
 * overlay's own xattrs in the user.overlay.* namespace (userxattr). */
#define OVL_LEGACY (1UL << 40)
#define OVL_USERXATTR (1UL << 41)

static const wbl_Flag overlay_flags[] = {
    {"legacy", OVL_LEGACY},           {"noatime", MOUNT_ATTR_NOATIME},
    {"nodev", MOUNT_ATTR_NODEV},      {"noexec", MOUNT_ATTR_NOEXEC},
    {"nosuid", MOUNT_ATTR_NOSUID},    {"ro", MOUNT_ATTR_RDONLY},
    {"userxattr", OVL_USERXATTR},     {NULL, 0}};

/* Push s with '\', ',' and ':' escaped by a '\' onto the buffer. */
static void add_escaped(luaL_Buffer *b, const char *s)
{
  for (; *s; s++) {
    if (*s == '\\' || *s == ',' || *s == ':')
      luaL_addchar(b, '\\');
    luaL_addchar(b, *s);
  }
}

/* The lowers argument: a non-empty sequence of strings. */
static int check_lowers(lua_State *L, int arg)
{
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_Integer n = luaL_len(L, arg);
  luaL_argcheck(L, n >= 1 && n <= 500, arg, "expected 1 to 500 lower directories");
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_geti(L, arg, i) != LUA_TSTRING)
      luaL_argerror(L, arg, "lower directories must be strings");
    lua_pop(L, 1);
  }
  return (int)n;
}

/* Push the legacy option string: lowerdir=a:b,upperdir=u,workdir=w. */
static void push_options(lua_State *L, int lowers, int n, const char *upper,
                         const char *work)
{
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "lowerdir=");
  for (int i = 1; i <= n; i++) {
    lua_geti(L, lowers, i);
    const char *p = lua_tostring(L, -1);
    lua_pop(L, 1); /* the table keeps the string alive */
    if (i > 1)
      luaL_addchar(&b, ':');
    add_escaped(&b, p);
  }
  if (upper) {
    luaL_addstring(&b, ",upperdir=");
    add_escaped(&b, upper);
    luaL_addstring(&b, ",workdir=");
    add_escaped(&b, work);
  }
  luaL_pushresult(&b);
}

/***
A path escaped for overlayfs options: '\', ',' and ':' get a '\'.
@string path
@treturn string
*/
static int overlay_escape(lua_State *L)
{
  const char *s = luaL_checkstring(L, 1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  add_escaped(&b, s);
  luaL_pushresult(&b);
  return 1;
}

/***
The option string mount(2) would get.
@tparam table lowers top first
@tparam[opt] string upper
@tparam[opt] string work
@treturn string
*/
static int overlay_options(lua_State *L)
{
  int n = check_lowers(L, 1);
  const char *upper = luaL_optstring(L, 2, NULL);
  const char *work = luaL_optstring(L, 3, NULL);
  luaL_argcheck(L, !upper == !work, 3, "upper and work go together");
  push_options(L, 1, n, upper, work);
  return 1;
}

/* The kernel's own words about a failed fsconfig (the fs context log):
 * "e overlay: ..." lines, appended to buf. */
static void read_log(int fsfd, char *buf, size_t size)
{
  size_t used = strlen(buf);
  char line[512];
  ssize_t r;
  while (used + 4 < size && (r = read(fsfd, line, sizeof line - 1)) > 0) {
    while (r > 0 && line[r - 1] == '\n') /* one line: the message says where */
      r--;
    line[r] = 0;
    for (char *c = line; *c; c++)
      if (*c == '\n')
        *c = ' ';
    const char *msg = line[0] && line[1] == ' ' ? line + 2 : line;
    used += (size_t)snprintf(buf + used, size - used, " [%s]", msg);
  }
}

/* Set one layer parameter: an O_PATH fd where the kernel takes one (6.13),
 * else the path as a string.  *by_fd remembers what worked.  Returns 0, or
 * -1 with errno and what[] describing the failed call. */
static int set_layer(int fsfd, const char *key, const char *path, int *by_fd,
                     char *what, size_t size)
{
  if (*by_fd) {
    int dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
      snprintf(what, size, "open %s %s", key, path);
      return -1;
    }
    int r = fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, dfd);
    int en = errno;
    close(dfd);
    if (r == 0)
      return 0;
    if (en != EINVAL && en != EOPNOTSUPP) {
      errno = en;
      snprintf(what, size, "fsconfig %s %s", key, path);
      return -1;
    }
    *by_fd = 0; /* before 6.13: strings only (6.1 says EOPNOTSUPP) */
  }
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, path, 0) == 0)
    return 0;
  snprintf(what, size, "fsconfig %s %s", key, path);
  return -1;
}

/* The new mount API.  Returns 1 mounted, 0 "use mount(2)" (no fsopen, no
 * lowerdir+), -1 failed with errno and what[]. */
static int mount_fsconfig(lua_State *L, int lowers, int n, const char *upper,
                          const char *work, const char *target,
                          unsigned int attrs, int userxattr, char *what, size_t size)
{
  /* The layers are read from the Lua table while fsfd is open: a handle
   * (left on the stack) owns it. */
  int *h = wbl_newfd(L);
  int fsfd = *h = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fsfd < 0) {
    if (errno == ENOSYS)
      return 0;
    snprintf(what, size, "fsopen overlay for %s", target);
    return -1;
  }
  int by_fd = 1, en;
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "wbl", 0) < 0) {
    snprintf(what, size, "fsconfig source for %s", target);
    goto fail;
  }
  for (int i = 1; i <= n; i++) {
    lua_geti(L, lowers, i);
    const char *p = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (set_layer(fsfd, "lowerdir+", p, &by_fd, what, size) < 0) {
      if (i == 1 && errno == EINVAL && !by_fd) { /* before 6.8: no lowerdir+ */
        wbl_closefd(h);
        return 0;
      }
      goto fail;
    }
  }
  if (upper && (set_layer(fsfd, "upperdir", upper, &by_fd, what, size) < 0 ||
                set_layer(fsfd, "workdir", work, &by_fd, what, size) < 0))
    goto fail;
  if (userxattr && fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) {
    snprintf(what, size, "fsconfig userxattr for %s", target);
    goto fail;
  }
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    if (errno == EINVAL && !by_fd) {
      /* Before 6.5 overlay has no fs_context parameters: the strings were
       * kept as legacy options, and "lowerdir+" is unknown at create. */
      wbl_closefd(h);
      return 0;
    }
    snprintf(what, size, "create overlay for %s", target);
    goto fail;
  }
  int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
  if (mfd < 0) {
    snprintf(what, size, "fsmount overlay for %s", target);
    goto fail;
  }
  int r = move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
  en = errno;
  close(mfd);
  wbl_closefd(h);
  if (r < 0) {
    errno = en;
    snprintf(what, size, "move_mount overlay to %s", target);
    return -1;
  }
  return 1;
fail:
  en = errno;
  read_log(fsfd, what, size);
  wbl_closefd(h);
  errno = en;
  return -1;
}

static unsigned long ms_flags(unsigned int attrs)
{
  unsigned long f = 0;
  if (attrs & MOUNT_ATTR_RDONLY) f |= MS_RDONLY;
  if (attrs & MOUNT_ATTR_NOSUID) f |= MS_NOSUID;
  if (attrs & MOUNT_ATTR_NODEV) f |= MS_NODEV;
  if (attrs & MOUNT_ATTR_NOEXEC) f |= MS_NOEXEC;
  if (attrs & MOUNT_ATTR_NOATIME) f |= MS_NOATIME;
  return f;
}

/***
Mount an overlay of lowers (top first) with an optional upper and work
directory (without them the overlay is read-only) on target.
@function mount
@tparam table lowers directories, top layer first
@tparam string|nil upper
@tparam string|nil work on the same file system as upper
@string target
@tparam[opt] string flags among ro, nosuid, nodev, noexec, noatime,
  userxattr (the overlay's own attributes as user.overlay.*, not
  trusted.overlay.*: what a mount made in a user namespace can write;
  Linux 5.11), and legacy (mount(2) with the option string, whatever the
  kernel has)
@treturn[1] true
@treturn[1] string "fsconfig" or "mount": the API used
@return[2] fail, "what PATH: message [kernel's log]", errno
@see fsopen(2), fsconfig(2), mount(2)
*/
static int overlay_mount(lua_State *L)
{
  int n = check_lowers(L, 1);
  const char *upper = luaL_optstring(L, 2, NULL);
  const char *work = luaL_optstring(L, 3, NULL);
  const char *target = luaL_checkstring(L, 4);
  unsigned long flags = wbl_optflags(L, 5, overlay_flags, 0);
  unsigned int attrs = (unsigned int)(flags & ~(OVL_LEGACY | OVL_USERXATTR));
  int userxattr = (flags & OVL_USERXATTR) != 0;
  luaL_argcheck(L, !upper == !work, 3, "upper and work go together");
  char what[1024] = "";
  if (!(flags & OVL_LEGACY)) {
    int r = mount_fsconfig(L, 1, n, upper, work, target, attrs, userxattr, what, sizeof what);
    if (r < 0)
      return wbl_failf(L, "%s", what);
    if (r > 0) {
      lua_pushboolean(L, 1);
      lua_pushliteral(L, "fsconfig");
      return 2;
    }
  }
  push_options(L, 1, n, upper, work);
  if (userxattr) {
    lua_pushliteral(L, ",userxattr");
    lua_concat(L, 2);
  }
  size_t len;
  const char *data = lua_tolstring(L, -1, &len);
  long page = sysconf(_SC_PAGESIZE);
  if ((long)len >= page) {
    /* mount(2) copies one page: a longer string would be cut short */
    return wbl_failn(L, E2BIG, lua_pushfstring(L,
        "overlay on %s: options are %d bytes, over one page (%d), and mount(2) "
        "is all this kernel offers (lowerdir+ needs Linux 6.8)",
        target, (int)len, (int)page));
  }
  if (mount("overlay", target, "overlay", ms_flags(attrs), data) < 0)
    return wbl_failf(L, "mount overlay on %s", target);
  lua_pushboolean(L, 1);
  lua_pushliteral(L, "mount");
  return 2;
}

static const luaL_Reg overlay_funcs[] = {{"escape", overlay_escape},
                                         {"mount", overlay_mount},
                                         {"options", overlay_options},
                                         {NULL, NULL}};

int wbl_open_overlay(lua_State *L)
{
  luaL_newlib(L, overlay_funcs);
  return 1;
}
