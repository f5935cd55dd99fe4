/*
 * wbl.h - shared helpers of the wbl C core.
 *
 * The core is policy-free: every binding does one system call (or one
 * small, fixed sequence of them) and reports failure the way Lua's io
 * library does: fail (nil), "what: strerror", errno.  Bad arguments raise.
 */
#ifndef WBL_H
#define WBL_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

#define WBL_VERSION "0.1.0"
#define WBL_FD "wbl.fd"
#define WBL_NL "wbl.nl"

/* A name -> flag table entry, ended by { NULL, 0 }. */
typedef struct {
  const char *name;
  unsigned long flag;
} wbl_Flag;

/* Push fail, "what: strerror(errno)", errno; return 3.  Saves errno first. */
int wbl_fail(lua_State *L, const char *what);
/* Same, for an explicit error number. */
int wbl_failn(lua_State *L, int en, const char *what);
/* Same, with a printf-like description of what failed. */
int wbl_failf(lua_State *L, const char *fmt, ...);
/* ok ? true : wbl_fail(what) */
int wbl_result(lua_State *L, int ok, const char *what);

/* Flags given as "a,b,c", { "a", "b" }, or an integer; unknown names raise. */
unsigned long wbl_checkflags(lua_State *L, int arg, const wbl_Flag *names);
unsigned long wbl_optflags(lua_State *L, int arg, const wbl_Flag *names,
                           unsigned long def);

/* A mode: an integer or an octal string such as "0755". */
unsigned int wbl_optmode(lua_State *L, int arg, unsigned int def);

/* An fd argument: a wbl.fd userdata or a non-negative integer. */
int wbl_checkfd(lua_State *L, int arg);
/* Push a new, closed wbl.fd and return its fd slot (-1): the handle is
 * made first and the fd stored into it by the call that opens it
 * (*fd = open(...)), so a memory error can never leak an fd (liolib's
 * newprefile).  Whatever the slot holds when it is collected is closed. */
int *wbl_newfd(lua_State *L);
/* Close the fd in a slot, marking it closed (-1) first; 0 if none was
 * open, else close(2)'s result. */
int wbl_closefd(int *fd);

/* A NULL-terminated string array from a Lua sequence (argv, envp).
 * The memory lives in a userdata left on the stack. */
char **wbl_checkargv(lua_State *L, int arg);
/* env given as a table: sequence of "K=V" or map K -> V. */
char **wbl_checkenv(lua_State *L, int arg);

/* The families, the one list of them: X(NAME) is the table core.NAME
 * (also loaded as "wbl.core.NAME"), pushed by int wbl_open_NAME(lua_State *)
 * in the family's own file in core/.  A new family is one line here plus
 * its file (which the Makefile's CORE_SRC must list). */
/* SHA-256 (core/hash.c; SHA-NI when the CPU has it): core.hash.sha256
 * and the chunk cache's keys. */
typedef struct {
  uint32_t s[8];
  uint64_t len;
  unsigned char buf[64];
  size_t n;
} wbl_sha256;
void wbl_sha_init(wbl_sha256 *c);
void wbl_sha_update(wbl_sha256 *c, const void *data, size_t len);
void wbl_sha_final(wbl_sha256 *c, unsigned char out[32]);

#define WBL_FAMILIES(X)                                                      \
  X(caps)                                                                    \
  X(data)                                                                    \
  X(devcg)                                                                   \
  X(fd)                                                                      \
  X(fs)                                                                      \
  X(hash)                                                                    \
  X(inroot)                                                                  \
  X(ipc)                                                                     \
  X(mount)                                                                   \
  X(nl)                                                                      \
  X(ns)                                                                      \
  X(overlay)                                                                 \
  X(proc)                                                                    \
  X(pty)                                                                     \
  X(seccomp)                                                                 \
  X(sock)

#define WBL_DECLARE_OPEN(name) int wbl_open_##name(lua_State *L);
WBL_FAMILIES(WBL_DECLARE_OPEN)
#undef WBL_DECLARE_OPEN

int luaopen_wbl_core(lua_State *L);

#endif
