/*
 * pty.c - pseudo-terminals: open a master, reach its slave, make a
 * terminal the controlling one, its window size, its mode (raw and back).
 *
 * A container's terminal is made in the container's own devpts instance
 * (its /dev/pts/ptmx, as runc does), so nothing of the host's devpts is
 * ever inside; the master then goes to the host over a unix socket
 * (fd.send_fds).  The slave is reached from the master (TIOCGPTPEER)
 * rather than by its name, which would be looked up in whatever /dev/pts
 * the caller sees.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "wbl.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/***
Open a pty master, unlocked.
grantpt(3) is not called: on devpts the kernel gives the slave its owner
and mode when the master is opened (the instance's gid= and mode=).
@function open
@string[opt="/dev/ptmx"] ptmx the ptmx of a devpts instance, e.g. a
  container's /dev/pts/ptmx (or /proc/self/fd/N of an O_PATH fd of it)
@treturn[1] wbl.fd the master (O_RDWR, O_NOCTTY, O_CLOEXEC)
@return[2] fail, "open PTMX: message", errno
@see posix_openpt(3), unlockpt(3)
*/
static int pty_open(lua_State *L)
{
  const char *path = luaL_optstring(L, 1, "/dev/ptmx");
  int *fd = wbl_newfd(L);
  if ((*fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    return wbl_failf(L, "open %s", path);
  if (unlockpt(*fd) < 0)
    return wbl_failf(L, "unlockpt %s", path);
  return 1;
}

/***
Open the slave of a master (TIOCGPTPEER: no path lookup, so the slave is
the one of the master's own devpts, whatever /dev/pts the caller sees).
@function peer
@tparam wbl.fd|int master
@treturn[1] wbl.fd the slave (O_RDWR, O_NOCTTY, O_CLOEXEC)
@return[2] fail, "TIOCGPTPEER: message", errno
@see ioctl_tty(2)
*/
static int pty_peer(lua_State *L)
{
  int master = wbl_checkfd(L, 1);
  int *fd = wbl_newfd(L);
  if ((*fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    return wbl_fail(L, "TIOCGPTPEER");
  return 1;
}

/***
The slave's name in the master's own devpts instance (TIOCGPTN).
@function ptsname
@tparam wbl.fd|int master
@treturn[1] string "/dev/pts/N" (where that instance is mounted at /dev/pts)
@treturn[1] int N
@return[2] fail, "TIOCGPTN: message", errno
*/
static int pty_ptsname(lua_State *L)
{
  unsigned int n;
  if (ioctl(wbl_checkfd(L, 1), TIOCGPTN, &n) < 0)
    return wbl_fail(L, "TIOCGPTN");
  lua_pushfstring(L, "/dev/pts/%d", (int)n);
  lua_pushinteger(L, n);
  return 2;
}

/***
Make a terminal the controlling terminal of this process's session (the
caller must lead a session without one: proc.setsid() first).
@function set_ctty
@tparam wbl.fd|int fd
@treturn[1] true
@return[2] fail, "TIOCSCTTY: message", errno
*/
static int pty_set_ctty(lua_State *L)
{
  return wbl_result(L, ioctl(wbl_checkfd(L, 1), TIOCSCTTY, 0) == 0, "TIOCSCTTY");
}

/***
A terminal's window size.
@function get_size
@tparam wbl.fd|int fd
@treturn[1] int rows
@treturn[1] int columns
@return[2] fail, "TIOCGWINSZ: message", errno (ENOTTY: not a terminal)
*/
static int pty_get_size(lua_State *L)
{
  struct winsize ws;
  if (ioctl(wbl_checkfd(L, 1), TIOCGWINSZ, &ws) < 0)
    return wbl_fail(L, "TIOCGWINSZ");
  lua_pushinteger(L, ws.ws_row);
  lua_pushinteger(L, ws.ws_col);
  return 2;
}

/***
Set a terminal's window size; when it changes, the kernel sends SIGWINCH
to the terminal's foreground process group.
@function set_size
@tparam wbl.fd|int fd
@int rows
@int columns
@treturn[1] true
@return[2] fail, "TIOCSWINSZ: message", errno
*/
static int pty_set_size(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  lua_Integer rows = luaL_checkinteger(L, 2), cols = luaL_checkinteger(L, 3);
  luaL_argcheck(L, rows >= 0 && rows <= 0xffff, 2, "bad size");
  luaL_argcheck(L, cols >= 0 && cols <= 0xffff, 3, "bad size");
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  return wbl_result(L, ioctl(fd, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ");
}

/***
A terminal's mode (its termios), as an opaque string for set_mode.
@function get_mode
@tparam wbl.fd|int fd
@treturn[1] string
@return[2] fail, "tcgetattr: message", errno
@see tcgetattr(3)
*/
static int pty_get_mode(lua_State *L)
{
  struct termios t;
  memset(&t, 0, sizeof t); /* its padding too: equal modes, equal strings */
  if (tcgetattr(wbl_checkfd(L, 1), &t) < 0)
    return wbl_fail(L, "tcgetattr");
  lua_pushlstring(L, (const char *)&t, sizeof t);
  return 1;
}

/***
Put a terminal back in a mode from get_mode or raw, once what was
written to it has gone out (TCSADRAIN).
@function set_mode
@tparam wbl.fd|int fd
@string mode
@treturn[1] true
@return[2] fail, "tcsetattr: message", errno
@see tcsetattr(3)
*/
static int pty_set_mode(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  struct termios t;
  luaL_argcheck(L, n == sizeof t, 2, "not a mode from get_mode");
  memcpy(&t, s, sizeof t);
  int r;
  do
    r = tcsetattr(fd, TCSADRAIN, &t);
  while (r < 0 && errno == EINTR);
  return wbl_result(L, r == 0, "tcsetattr");
}

/***
Put a terminal in raw mode (cfmakeraw: bytes pass as they are, Ctrl-C
and Ctrl-Z included, no echo, no output processing).
@function raw
@tparam wbl.fd|int fd
@treturn[1] string the mode it had (for set_mode)
@return[2] fail, "tcgetattr|tcsetattr: message", errno
@see cfmakeraw(3)
*/
static int pty_raw(lua_State *L)
{
  int fd = wbl_checkfd(L, 1);
  struct termios old, t;
  memset(&old, 0, sizeof old);
  if (tcgetattr(fd, &old) < 0)
    return wbl_fail(L, "tcgetattr");
  t = old;
  cfmakeraw(&t);
  int r;
  do
    r = tcsetattr(fd, TCSADRAIN, &t);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return wbl_fail(L, "tcsetattr");
  lua_pushlstring(L, (const char *)&old, sizeof old);
  return 1;
}

static const luaL_Reg pty_funcs[] = {{"get_mode", pty_get_mode},
                                     {"get_size", pty_get_size},
                                     {"open", pty_open},
                                     {"peer", pty_peer},
                                     {"ptsname", pty_ptsname},
                                     {"raw", pty_raw},
                                     {"set_ctty", pty_set_ctty},
                                     {"set_mode", pty_set_mode},
                                     {"set_size", pty_set_size},
                                     {NULL, NULL}};

int wbl_open_pty(lua_State *L)
{
  luaL_newlib(L, pty_funcs);
  return 1;
}
