/*
 * fd.c - file descriptors as "wbl.fd" userdata (the liolib.c model).
 *
 * A handle is made closed (-1) before the fd it will own is opened, so a
 * memory error cannot leak it; it is marked closed before close(2) runs,
 * and one function serves __gc and __close, so a script that errors never
 * leaks or double-closes.  fd:release() gives the number away (crun's
 * get_and_reset).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wbl.h"

typedef struct {
  int fd;
} wbl_Fd;

static const wbl_Flag open_flags[] = {
    {"rdonly", O_RDONLY},     {"wronly", O_WRONLY},   {"rdwr", O_RDWR},
    {"creat", O_CREAT},       {"excl", O_EXCL},       {"trunc", O_TRUNC},
    {"append", O_APPEND},     {"nonblock", O_NONBLOCK}, {"directory", O_DIRECTORY},
    {"nofollow", O_NOFOLLOW}, {"path", O_PATH},       {"noctty", O_NOCTTY},
    {"cloexec", O_CLOEXEC},   {NULL, 0}};

static void fd_metatable(lua_State *L);

int *wbl_newfd(lua_State *L)
{
  wbl_Fd *p = lua_newuserdatauv(L, sizeof *p, 0);
  p->fd = -1; /* closed until the caller opens it */
  fd_metatable(L);
  lua_setmetatable(L, -2);
  return &p->fd;
}

int wbl_closefd(int *fd)
{
  int n = *fd;
  *fd = -1; /* closed before close(2), whatever it says */
  return n < 0 ? 0 : close(n);
}

int wbl_checkfd(lua_State *L, int arg)
{
  wbl_Fd *p = luaL_testudata(L, arg, WBL_FD);
  if (p) {
    luaL_argcheck(L, p->fd >= 0, arg, "attempt to use a closed fd");
    return p->fd;
  }
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, arg, "bad fd");
  return (int)n;
}

/***
Open a file.  Always O_CLOEXEC.
@function open
@string path
@tparam[opt="rdonly"] string|table flags e.g. "wronly,creat,trunc"
@int[opt=0644] mode
@treturn[1] wbl.fd
@return[2] fail, message, errno
@see open(2)
*/
static int fd_open(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  int flags = (int)wbl_optflags(L, 2, open_flags, O_RDONLY);
  mode_t mode = (mode_t)wbl_optmode(L, 3, 0644);
  int *fd = wbl_newfd(L);
  if ((*fd = open(path, flags | O_CLOEXEC, mode)) < 0)
    return wbl_failf(L, "open %s", path);
  return 1;
}

/***
A pipe, both ends O_CLOEXEC.
@treturn[1] wbl.fd read end
@treturn[1] wbl.fd write end
@return[2] fail, message, errno
@see pipe2(2)
*/
static int fd_pipe(lua_State *L)
{
  int *r = wbl_newfd(L), *w = wbl_newfd(L), p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return wbl_fail(L, "pipe");
  *r = p[0];
  *w = p[1];
  return 2;
}

/***
Read up to n bytes (default 4096); "" at end of file.  Retries on EINTR.
@treturn[1] string
@return[2] fail, message, errno
*/
static int fd_read(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 4096);
  luaL_argcheck(L, n > 0 && n <= (1 << 24), 2, "bad size");
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)n);
  ssize_t r;
  do
    r = read(fd, p, (size_t)n);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_fail(L, "read");
  luaL_pushresultsize(&b, (size_t)r);
  return 1;
}

/***
Write all of s (one write(2) per chunk the kernel takes).  Retries on EINTR.
@treturn[1] int bytes written
@return[2] fail, message, errno
*/
static int fd_write(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, s + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return wbl_fail(L, "write");
    off += (size_t)w;
  }
  lua_pushinteger(L, (lua_Integer)off);
  return 1;
}

/* close: wbl.fd (idempotent) or a plain integer. */
static int fd_close(lua_State *L)
{
  wbl_Fd *p = luaL_testudata(L, 1, WBL_FD);
  if (p)
    return wbl_result(L, wbl_closefd(&p->fd) == 0, "close");
  return wbl_result(L, close(wbl_checkfd(L, 1)) == 0, "close");
}

static int fd_gc(lua_State *L)
{
  wbl_Fd *p = luaL_checkudata(L, 1, WBL_FD);
  wbl_closefd(&p->fd);
  return 0;
}

/***
dup2(fd, newfd): the copy is not close-on-exec (that is the point).
@treturn[1] int newfd
@return[2] fail, message, errno
*/
static int fd_dup2(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  int nfd = (int)luaL_checkinteger(L, 2);
  int r;
  if (fd == nfd) { /* dup2 would keep FD_CLOEXEC: clear it */
    int fl = fcntl(fd, F_GETFD);
    r = (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0) ? -1 : fd;
  } else {
    r = dup2(fd, nfd);
  }
  if (r < 0)
    return wbl_fail(L, "dup2");
  lua_pushinteger(L, r);
  return 1;
}

static int fd_fileno(lua_State *L)
{
  lua_pushinteger(L, wbl_checkfd(L, 1));
  return 1;
}

/* fd:release(): the caller now owns the number; the handle is closed. */
static int fd_release(lua_State *L)
{
  wbl_Fd *p = luaL_checkudata(L, 1, WBL_FD);
  luaL_argcheck(L, p->fd >= 0, 1, "attempt to use a closed fd");
  lua_pushinteger(L, p->fd);
  p->fd = -1;
  return 1;
}

/***
Wait until fd is readable (or hung up), at most timeout ms (-1: forever).
@treturn[1] boolean true if ready, false on timeout
@return[2] fail, message, errno
*/
static int fd_wait(lua_State *L)
{
  struct pollfd pfd = {.fd = wbl_checkfd(L, 1), .events = POLLIN};
  int timeout = (int)luaL_optinteger(L, 2, -1);
  int r;
  do
    r = poll(&pfd, 1, timeout);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_fail(L, "poll");
  lua_pushboolean(L, r > 0);
  return 1;
}

static int fd_isatty(lua_State *L)
{
  lua_pushboolean(L, isatty(wbl_checkfd(L, 1)));
  return 1;
}

static int fd_tostring(lua_State *L)
{
  wbl_Fd *p = luaL_checkudata(L, 1, WBL_FD);
  if (p->fd < 0)
    lua_pushliteral(L, "wbl.fd (closed)");
  else
    lua_pushfstring(L, "wbl.fd (%d)", p->fd);
  return 1;
}

static const luaL_Reg fd_methods[] = {
    {"close", fd_close},   {"dup2", fd_dup2},   {"fileno", fd_fileno},
    {"isatty", fd_isatty}, {"read", fd_read},   {"release", fd_release},
    {"wait", fd_wait},     {"write", fd_write}, {NULL, NULL}};

static const luaL_Reg fd_meta[] = {{"__index", NULL},
                                   {"__gc", fd_gc},
                                   {"__close", fd_gc},
                                   {"__tostring", fd_tostring},
                                   {NULL, NULL}};

static const luaL_Reg fd_funcs[] = {
    {"close", fd_close},   {"dup2", fd_dup2}, {"fileno", fd_fileno},
    {"isatty", fd_isatty}, {"open", fd_open}, {"pipe", fd_pipe},
    {"read", fd_read},     {"wait", fd_wait}, {"write", fd_write},
    {NULL, NULL}};

/* Push the wbl.fd metatable, made on first use (by whichever family
 * makes the first handle). */
static void fd_metatable(lua_State *L)
{
  if (luaL_newmetatable(L, WBL_FD)) {
    luaL_setfuncs(L, fd_meta, 0);
    luaL_newlib(L, fd_methods);
    lua_setfield(L, -2, "__index");
  }
}

int wbl_open_fd(lua_State *L)
{
  fd_metatable(L);
  lua_pop(L, 1);
  luaL_newlib(L, fd_funcs);
  return 1;
}
