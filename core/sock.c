/*
 * sock.c - unix stream sockets by path: connect (an OCI runtime's
 * --console-socket, where the caller waits for the pty master), listen
 * and accept (the caller's side, for specs and tools).  The sockets are
 * wbl.fd handles, so fd.send_fds and fd.recv_fds work on them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wbl.h"

/* Fill a sockaddr_un with path; raises when it does not fit. */
static socklen_t sock_addr(lua_State *L, int arg, struct sockaddr_un *a)
{
  size_t len;
  const char *path = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, len > 0 && len < sizeof a->sun_path, arg, "path empty or too long for a unix socket");
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  memcpy(a->sun_path, path, len);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/***
Connect to the unix stream socket at path.  O_CLOEXEC.
@function connect
@string path
@treturn[1] wbl.fd
@return[2] fail, "connect PATH: message", errno
@see unix(7)
*/
static int sock_connect(lua_State *L)
{
  struct sockaddr_un a;
  socklen_t n = sock_addr(L, 1, &a);
  int *fd = wbl_newfd(L);
  if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
    return wbl_fail(L, "socket");
  int r;
  do
    r = connect(*fd, (struct sockaddr *)&a, n);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int en = errno;
    wbl_closefd(fd);
    errno = en;
    return wbl_failf(L, "connect %s", a.sun_path);
  }
  return 1;
}

/***
A unix stream socket bound to path (which must not exist), listening.
O_CLOEXEC.
@function listen
@string path
@int[opt=16] backlog
@treturn[1] wbl.fd
@return[2] fail, "bind PATH: message", errno
*/
static int sock_listen(lua_State *L)
{
  struct sockaddr_un a;
  socklen_t n = sock_addr(L, 1, &a);
  int backlog = (int)luaL_optinteger(L, 2, 16);
  int *fd = wbl_newfd(L);
  if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
    return wbl_fail(L, "socket");
  if (bind(*fd, (struct sockaddr *)&a, n) < 0) {
    int en = errno;
    wbl_closefd(fd);
    errno = en;
    return wbl_failf(L, "bind %s", a.sun_path);
  }
  if (listen(*fd, backlog) < 0) {
    int en = errno;
    wbl_closefd(fd);
    errno = en;
    return wbl_failf(L, "listen %s", a.sun_path);
  }
  return 1;
}

/***
Accept a connection on a listening socket (blocks; O_CLOEXEC).
@function accept
@tparam wbl.fd|int sock
@treturn[1] wbl.fd
@return[2] fail, "accept: message", errno
*/
static int sock_accept(lua_State *L)
{
  int s = wbl_checkfd(L, 1);
  int *fd = wbl_newfd(L);
  do
    *fd = accept4(s, NULL, NULL, SOCK_CLOEXEC);
  while (*fd < 0 && errno == EINTR);
  if (*fd < 0)
    return wbl_fail(L, "accept");
  return 1;
}

static const luaL_Reg sock_funcs[] = {
    {"accept", sock_accept}, {"connect", sock_connect}, {"listen", sock_listen}, {NULL, NULL}};

int wbl_open_sock(lua_State *L)
{
  luaL_newlib(L, sock_funcs);
  return 1;
}
