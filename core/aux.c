/*
 * aux.c - failure returns, flag tables, fd and argv arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "wbl.h"

int wbl_failn(lua_State *L, int en, const char *what)
{
  luaL_pushfail(L);
  if (what)
    lua_pushfstring(L, "%s: %s", what, strerror(en));
  else
    lua_pushstring(L, strerror(en));
  lua_pushinteger(L, en);
  return 3;
}

int wbl_fail(lua_State *L, const char *what)
{
  int en = errno; /* save before any Lua API call */
  return wbl_failn(L, en, what);
}

int wbl_failf(lua_State *L, const char *fmt, ...)
{
  int en = errno;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return wbl_failn(L, en, buf);
}

int wbl_result(lua_State *L, int ok, const char *what)
{
  if (!ok)
    return wbl_fail(L, what);
  lua_pushboolean(L, 1);
  return 1;
}

static unsigned long flag_lookup(lua_State *L, int arg, const wbl_Flag *names,
                                 const char *s, size_t n)
{
  for (const wbl_Flag *f = names; f->name; f++)
    if (strlen(f->name) == n && memcmp(f->name, s, n) == 0)
      return f->flag;
  lua_pushlstring(L, s, n);
  return (unsigned long)luaL_argerror(
      L, arg, lua_pushfstring(L, "unknown flag '%s'", lua_tostring(L, -1)));
}

unsigned long wbl_checkflags(lua_State *L, int arg, const wbl_Flag *names)
{
  unsigned long flags = 0;
  switch (lua_type(L, arg)) {
  case LUA_TNUMBER:
    return (unsigned long)luaL_checkinteger(L, arg);
  case LUA_TSTRING: {
    const char *s = lua_tostring(L, arg);
    while (*s) {
      size_t n = strcspn(s, ", |");
      if (n > 0)
        flags |= flag_lookup(L, arg, names, s, n);
      s += n;
      s += strspn(s, ", |");
    }
    return flags;
  }
  case LUA_TTABLE: {
    lua_Integer len = luaL_len(L, arg);
    for (lua_Integer i = 1; i <= len; i++) {
      size_t n;
      lua_geti(L, arg, i);
      const char *s = lua_tolstring(L, -1, &n);
      if (!s)
        luaL_argerror(L, arg, "flag names must be strings");
      flags |= flag_lookup(L, arg, names, s, n);
      lua_pop(L, 1);
    }
    return flags;
  }
  default:
    return (unsigned long)luaL_typeerror(L, arg, "flag string or table");
  }
}

unsigned long wbl_optflags(lua_State *L, int arg, const wbl_Flag *names,
                           unsigned long def)
{
  if (lua_isnoneornil(L, arg))
    return def;
  return wbl_checkflags(L, arg, names);
}

char **wbl_checkargv(lua_State *L, int arg)
{
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_Integer n = luaL_len(L, arg);
  luaL_argcheck(L, n >= 0 && n < 65536, arg, "bad length");
  char **v = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 1);
  lua_createtable(L, (int)n, 0); /* keep strings alive */
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, arg, i);
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      luaL_argerror(L, arg, "argv entries must be strings");
    v[i - 1] = (char *)lua_tostring(L, -1);
    lua_rawseti(L, -2, i);
  }
  v[n] = NULL;
  lua_setiuservalue(L, -2, 1);
  return v;
}

char **wbl_checkenv(lua_State *L, int arg)
{
  luaL_checktype(L, arg, LUA_TTABLE);
  int t = lua_absindex(L, arg);
  /* Build a sequence of "K=V" strings, then reuse wbl_checkargv. */
  lua_newtable(L);
  int out = lua_gettop(L);
  lua_Integer k = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TNUMBER) {
      lua_pushvalue(L, -1);
    } else {
      if (lua_type(L, -2) != LUA_TSTRING)
        luaL_argerror(L, arg, "env keys must be strings");
      int kidx = lua_gettop(L) - 1;
      const char *v = luaL_tolstring(L, -1, NULL);
      lua_pushfstring(L, "%s=%s", lua_tostring(L, kidx), v);
      lua_remove(L, -2);
    }
    lua_rawseti(L, out, ++k);
    lua_pop(L, 1);
  }
  char **v = wbl_checkargv(L, out);
  lua_remove(L, out); /* the userdata stays, holding the strings */
  return v;
}

unsigned int wbl_optmode(lua_State *L, int arg, unsigned int def)
{
  if (lua_isnoneornil(L, arg))
    return def;
  if (lua_type(L, arg) == LUA_TSTRING) { /* Lua has no octal literals: "0755" */
    const char *s = lua_tostring(L, arg);
    char *end;
    unsigned long m = strtoul(s, &end, 8);
    luaL_argcheck(L, *s && *end == 0 && m <= 07777, arg, "bad octal mode");
    return (unsigned int)m;
  }
  lua_Integer m = luaL_checkinteger(L, arg);
  luaL_argcheck(L, m >= 0 && m <= 07777, arg, "bad mode");
  return (unsigned int)m;
}
