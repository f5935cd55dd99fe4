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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
On a non-blocking fd, stops at EAGAIN: what was taken before it is a
short count (EAGAIN is the failure only when nothing was).
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
    if (w < 0 && errno == EAGAIN && off > 0)
      break;
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

/* poll(2) event names, for fd.poll. */
static const wbl_Flag poll_events[] = {
    {"in", POLLIN},    {"pri", POLLPRI},   {"out", POLLOUT}, {"rdhup", POLLRDHUP},
    {"err", POLLERR},  {"hup", POLLHUP},   {"nval", POLLNVAL}, {NULL, 0}};

/***
Wait until one of several fds is ready, at most timeout ms (-1: forever).
Retries on EINTR (with the whole timeout again).
@function poll
@tparam table fds a sequence; each entry an fd (wait to read) or
  { fd, "in,out" } (events among in, out, pri, rdhup; "" for none: hang-up
  and errors are always reported)
@int[opt=-1] timeout_ms
@treturn[1] table the ready entries: ready[i] = "in,hup" (what poll(2)
  said of fds[i]); empty on timeout
@treturn[1] int how many are ready
@return[2] fail, "poll: message", errno
@see poll(2)
*/
static int fd_poll(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  int timeout = (int)luaL_optinteger(L, 2, -1);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 0 && n <= 4096, 1, "too many fds");
  struct pollfd *p = lua_newuserdatauv(L, sizeof *p * (size_t)(n ? n : 1), 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    int e = lua_gettop(L);
    short events = POLLIN;
    if (lua_type(L, e) == LUA_TTABLE) {
      lua_geti(L, e, 1);
      lua_geti(L, e, 2);
      events = (short)wbl_checkflags(L, e + 2, poll_events);
      p[i - 1].fd = wbl_checkfd(L, e + 1);
    } else {
      p[i - 1].fd = wbl_checkfd(L, e);
    }
    p[i - 1].events = events;
    p[i - 1].revents = 0;
    lua_settop(L, e - 1);
  }
  int r;
  do
    r = poll(p, (nfds_t)n, timeout);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_fail(L, "poll");
  lua_createtable(L, 0, r);
  for (lua_Integer i = 0; i < n; i++) {
    if (!p[i].revents)
      continue;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const wbl_Flag *f = poll_events; f->name; f++)
      if (p[i].revents & f->flag) {
        if (luaL_bufflen(&b) > 0)
          luaL_addchar(&b, ',');
        luaL_addstring(&b, f->name);
      }
    luaL_pushresult(&b);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushinteger(L, r);
  return 2;
}

/***
Make an fd's reads and writes non-blocking (EAGAIN instead of a wait),
or blocking again.
@function nonblock
@tparam wbl.fd|int fd
@tparam[opt=true] boolean on
@treturn[1] true
@return[2] fail, "fcntl: message", errno
*/
static int fd_nonblock(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  int on = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return wbl_fail(L, "fcntl");
  fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
  return wbl_result(L, fcntl(fd, F_SETFL, fl) == 0, "fcntl");
}

/***
A connected pair of unix sockets (SOCK_SEQPACKET: messages keep their
bounds), both ends O_CLOEXEC; for fds passed with send_fds.
@function socketpair
@treturn[1] wbl.fd
@treturn[1] wbl.fd
@return[2] fail, "socketpair: message", errno
@see socketpair(2)
*/
static int fd_socketpair(lua_State *L)
{
  int *a = wbl_newfd(L), *b = wbl_newfd(L), sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return wbl_fail(L, "socketpair");
  *a = sv[0];
  *b = sv[1];
  return 2;
}

/* A unix socket address for path; ENAMETOOLONG past sun_path (a long
 * directory can be reached as /proc/self/fd/N/NAME through an O_PATH fd). */
static int unix_addr(struct sockaddr_un *sa, const char *path)
{
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sa->sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(sa->sun_path, path);
  return 0;
}

/***
A listening unix socket (SOCK_SEQPACKET, as socketpair: messages keep
their bounds) bound at path, made with mode (the umask is set to its
complement around bind, so the file never has more); O_CLOEXEC.  path
must not exist.
@function listen
@string path at most 107 bytes
@tparam[opt="0600"] int|string mode
@int[opt=8] backlog
@treturn[1] wbl.fd
@return[2] fail, "bind PATH: message", errno (EADDRINUSE: path exists)
@see unix(7), listen(2)
*/
static int fd_listen(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)wbl_optmode(L, 2, 0600);
  int backlog = (int)luaL_optinteger(L, 3, 8);
  struct sockaddr_un sa;
  int *fd = wbl_newfd(L);
  if (unix_addr(&sa, path) < 0)
    return wbl_failf(L, "bind %s", path);
  if ((*fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
    return wbl_fail(L, "socket");
  mode_t old = umask(~mode & 0777);
  int r = bind(*fd, (struct sockaddr *)&sa, sizeof sa);
  int en = errno;
  umask(old);
  errno = en;
  if (r < 0)
    return wbl_failf(L, "bind %s", path);
  if (listen(*fd, backlog) < 0)
    return wbl_failf(L, "listen %s", path);
  return 1;
}

/***
Connect to a unix socket made by listen (SOCK_SEQPACKET); O_CLOEXEC.
@function connect
@string path
@treturn[1] wbl.fd
@return[2] fail, "connect PATH: message", errno (ENOENT: no socket;
  ECONNREFUSED: nobody listens any more)
@see connect(2)
*/
static int fd_connect(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct sockaddr_un sa;
  int *fd = wbl_newfd(L);
  if (unix_addr(&sa, path) < 0)
    return wbl_failf(L, "connect %s", path);
  if ((*fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
    return wbl_fail(L, "socket");
  int r;
  do
    r = connect(*fd, (struct sockaddr *)&sa, sizeof sa);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_failf(L, "connect %s", path);
  return 1;
}

/***
Accept a connection on a listening socket; the new fd is O_CLOEXEC.
@function accept
@tparam wbl.fd|int sock
@treturn[1] wbl.fd
@return[2] fail, "accept: message", errno (EAGAIN: none waiting, on a
  non-blocking socket)
@see accept4(2)
*/
static int fd_accept(lua_State *L)
{
  int sock = wbl_checkfd(L, 1);
  int *fd = wbl_newfd(L);
  do
    *fd = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
  while (*fd < 0 && errno == EINTR);
  if (*fd < 0)
    return wbl_fail(L, "accept");
  return 1;
}

#define WBL_MAXFDS 16

/***
Send fds over a unix socket (SCM_RIGHTS), with a message (one byte at
least is needed to carry them).
@function send_fds
@tparam wbl.fd|int sock
@tparam table fds a sequence of fds (at most 16)
@string[opt="."] data
@treturn[1] true
@return[2] fail, "sendmsg: message", errno
@see unix(7)
*/
static int fd_send_fds(lua_State *L)
{
  int sock = wbl_checkfd(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  size_t len;
  const char *data = luaL_optlstring(L, 3, ".", &len);
  luaL_argcheck(L, len > 0, 3, "empty message");
  lua_Integer n = luaL_len(L, 2);
  luaL_argcheck(L, n >= 1 && n <= WBL_MAXFDS, 2, "1 to 16 fds");
  union {
    char buf[CMSG_SPACE(sizeof(int) * WBL_MAXFDS)];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
  int *fds = (int *)CMSG_DATA(c);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 2, i);
    fds[i - 1] = wbl_checkfd(L, -1);
    lua_pop(L, 1);
  }
  ssize_t r;
  do
    r = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  return wbl_result(L, r >= 0, "sendmsg");
}

/***
Receive a message and the fds sent with it (SCM_RIGHTS), each O_CLOEXEC.
@function recv_fds
@tparam wbl.fd|int sock
@treturn[1] string the message ("" at end of file: the other end closed)
@treturn[1] table the fds received, as wbl.fd (maybe none)
@return[2] fail, "recvmsg: message", errno
@see unix(7)
*/
static int fd_recv_fds(lua_State *L)
{
  int sock = wbl_checkfd(L, 1);
  char data[256];
  union {
    char buf[CMSG_SPACE(sizeof(int) * WBL_MAXFDS)];
    struct cmsghdr align;
  } u;
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
  /* The handles first, so a memory error cannot leak what arrives. */
  lua_createtable(L, WBL_MAXFDS, 0);
  int *slot[WBL_MAXFDS];
  for (int i = 0; i < WBL_MAXFDS; i++) {
    slot[i] = wbl_newfd(L);
    lua_rawseti(L, -2, i + 1);
  }
  ssize_t r;
  do
    r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_fail(L, "recvmsg");
  int k = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *fds = (int *)CMSG_DATA(c);
    for (size_t j = 0; j < m && k < WBL_MAXFDS; j++)
      *slot[k++] = fds[j];
  }
  for (int i = WBL_MAXFDS; i > k; i--) { /* drop the unused handles */
    lua_pushnil(L);
    lua_rawseti(L, -2, i);
  }
  lua_pushlstring(L, data, (size_t)r);
  lua_insert(L, -2);
  return 2;
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
    {"accept", fd_accept},
    {"close", fd_close},       {"dup2", fd_dup2},         {"fileno", fd_fileno},
    {"isatty", fd_isatty},     {"nonblock", fd_nonblock}, {"read", fd_read},
    {"recv_fds", fd_recv_fds}, {"release", fd_release},   {"send_fds", fd_send_fds},
    {"wait", fd_wait},         {"write", fd_write},       {NULL, NULL}};

static const luaL_Reg fd_meta[] = {{"__index", NULL},
                                   {"__gc", fd_gc},
                                   {"__close", fd_gc},
                                   {"__tostring", fd_tostring},
                                   {NULL, NULL}};

static const luaL_Reg fd_funcs[] = {
    {"accept", fd_accept},     {"connect", fd_connect},
    {"listen", fd_listen},
    {"close", fd_close},       {"dup2", fd_dup2},
    {"fileno", fd_fileno},     {"isatty", fd_isatty},
    {"nonblock", fd_nonblock}, {"open", fd_open},
    {"pipe", fd_pipe},         {"poll", fd_poll},
    {"read", fd_read},         {"recv_fds", fd_recv_fds},
    {"send_fds", fd_send_fds}, {"socketpair", fd_socketpair},
    {"wait", fd_wait},         {"write", fd_write},
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
