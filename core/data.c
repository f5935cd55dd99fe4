/*
 * data.c - plain data (strings, numbers, booleans, tables of them) as Lua
 * source: what wbl writes as state and records (wbl.util.serialise).
 *
 *   data.serialise(v)  -> "return " .. v as Lua source .. "\n"
 *
 * The output is exactly what the Lua version wrote (and what
 * wbl.util.unserialise reads): two-space indents; a list (keys 1..n,
 * no others) in order without keys; any other table with its keys
 * sorted (numbers first, then strings, byte order), names bare when
 * they can be; strings as string.format("%q") gives them; numbers as
 * tostring.  Only the speed differs: saving a container's state (a
 * spec with a seccomp profile of some 400 names) is a few times a start.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "wbl.h"

#define MAX_DEPTH 100

/* The output, in a userdata (freed by its __gc when an error unwinds):
 * luaL_Buffer wants the stack balanced between its calls, which the
 * recursion here does not keep. */
typedef struct {
  char *p;
  size_t len, cap;
} Buf;

static void buf_add(lua_State *L, Buf *b, const char *s, size_t n)
{
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
      luaL_error(L, "serialise: out of memory");
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void buf_char(lua_State *L, Buf *b, char c)
{
  if (b->len < b->cap)
    b->p[b->len++] = c;
  else
    buf_add(L, b, &c, 1);
}
static void buf_str(lua_State *L, Buf *b, const char *s) { buf_add(L, b, s, strlen(s)); }

static int buf_gc(lua_State *L)
{
  Buf *b = lua_touserdata(L, 1);
  free(b->p);
  b->p = NULL;
  return 0;
}

/* Bytes %q writes escaped: '"', '\\', newline and the control characters
 * (iscntrl in the C locale: 0-31 and 127). */
static unsigned char special[256];

static void init_special(void)
{
  if (special['"'])
    return;
  for (int c = 0; c < 32; c++)
    special[c] = 1;
  special[127] = special['"'] = special['\\'] = 1;
}

/* lstrlib's addquoted: string.format("%q", s).  Runs of characters that
 * need no escape are copied at once. */
static void add_quoted(lua_State *L, Buf *b, const char *s, size_t len)
{
  buf_char(L, b, '"');
  while (len) {
    size_t run = 0;
    while (run < len && !special[(unsigned char)s[run]])
      run++;
    if (run) {
      buf_add(L, b, s, run);
      s += run, len -= run;
      continue;
    }
    len--;
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\' || c == '\n') {
      buf_char(L, b, '\\');
      buf_char(L, b, (char)c);
    } else {
      char buf[10];
      /* (s[1] is the terminating NUL of a Lua string at the end) */
      snprintf(buf, sizeof buf, isdigit((unsigned char)s[1]) ? "\\%03d" : "\\%d", (int)c);
      buf_str(L, b, buf);
    }
    s++;
  }
  buf_char(L, b, '"');
}

static const char *const keywords[] = {
    "and",   "break", "do",     "else", "elseif", "end",   "false", "for",  "function",
    "goto",  "if",    "in",     "local", "nil",   "not",   "or",    "repeat", "return",
    "then",  "true",  "until",  "while", NULL};

/* A key that can be written bare: [%a_][%w_]*, not a keyword. */
static int plain_name(const char *s, size_t len)
{
  if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
    return 0;
  for (size_t i = 1; i < len; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
      return 0;
  for (int i = 0; keywords[i]; i++)
    if (keywords[i][0] == s[0] && strcmp(keywords[i], s) == 0)
      return 0;
  return 1;
}

/* Keys being sorted: each stays on the stack (at), and what orders it is
 * copied here: a number or a string (pointer into the key). */
struct key {
  int at;
  int isnum;
  lua_Number num;
  int isint;
  lua_Integer i;
  const char *s;
  size_t len;
};

static int key_cmp(const void *pa, const void *pb)
{
  const struct key *a = pa, *b = pb;
  if (a->isnum != b->isnum)
    return a->isnum ? -1 : 1; /* numbers first */
  if (a->isnum) {
    if (a->isint && b->isint)
      return (a->i > b->i) - (a->i < b->i);
    lua_Number x = a->isint ? (lua_Number)a->i : a->num, y = b->isint ? (lua_Number)b->i : b->num;
    return (x > y) - (x < y);
  }
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->s, b->s, n);
  if (c)
    return c;
  return (a->len > b->len) - (a->len < b->len);
}

static void add_indent(lua_State *L, Buf *b, int depth)
{
  static const char spaces[] = "                                                                ";
  size_t n = 2 * (size_t)depth;
  while (n > sizeof spaces - 1) {
    buf_add(L, b, spaces, sizeof spaces - 1);
    n -= sizeof spaces - 1;
  }
  buf_add(L, b, spaces, n);
}

static void ser(lua_State *L, Buf *b, int idx, int depth);

/* The value at the top of the stack, popped. */
static void ser_top(lua_State *L, Buf *b, int depth)
{
  ser(L, b, lua_gettop(L), depth);
  lua_pop(L, 1);
}

static void ser(lua_State *L, Buf *b, int idx, int depth)
{
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    add_quoted(L, b, s, len);
    return;
  }
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      buf_add(L, b, "true", 4);
    else
      buf_add(L, b, "false", 5);
    return;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) { /* tostring's LUA_INTEGER_FMT, no string made */
      char num[32];
      int len = snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
      buf_add(L, b, num, (size_t)len);
      return;
    }
    { /* a float as tostring writes it */
      size_t len;
      const char *s = luaL_tolstring(L, idx, &len);
      buf_add(L, b, s, len);
      lua_pop(L, 1);
    }
    return;
  case LUA_TNIL: {
    size_t len;
    const char *s = luaL_tolstring(L, idx, &len); /* tostring, pushed */
    buf_add(L, b, s, len);
    lua_pop(L, 1);
    return;
  }
  case LUA_TTABLE:
    break;
  default:
    luaL_error(L, "cannot serialise a %s", luaL_typename(L, idx));
    return;
  }
  if (depth >= MAX_DEPTH)
    luaL_error(L, "cannot serialise: tables nested deeper than %d (a cycle?)", MAX_DEPTH);
  luaL_checkstack(L, 8, "serialise");
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    lua_pop(L, 1);
  }
  int list = count == n;
  for (lua_Integer i = 1; list && i <= n; i++) {
    if (lua_rawgeti(L, idx, i) == LUA_TNIL)
      list = 0;
    lua_pop(L, 1);
  }
  buf_add(L, b, "{\n", 2);
  if (list) {
    for (lua_Integer i = 1; i <= n; i++) {
      add_indent(L, b, depth + 1);
      lua_rawgeti(L, idx, i);
      ser_top(L, b, depth + 1);
      buf_add(L, b, ",\n", 2);
    }
  } else {
    struct key *keys = lua_newuserdatauv(L, sizeof *keys * (size_t)(count ? count : 1), 0);
    int keys_at = lua_gettop(L);
    luaL_checkstack(L, (int)count + 8, "serialise: a table of too many keys");
    lua_Integer k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1); /* one copy stays, the other goes on with lua_next */
      struct key *e = &keys[k++];
      memset(e, 0, sizeof *e);
      e->at = lua_gettop(L) - 1;
      int t = lua_type(L, -1);
      if (t == LUA_TNUMBER) {
        e->isnum = 1;
        e->isint = lua_isinteger(L, -1);
        if (e->isint)
          e->i = lua_tointeger(L, -1);
        else
          e->num = lua_tonumber(L, -1);
      } else if (t == LUA_TSTRING) {
        e->s = lua_tolstring(L, -1, &e->len); /* the table keeps the key alive */
      } else {
        luaL_error(L, "cannot serialise a table with a %s key", luaL_typename(L, -1));
      }
    }
    qsort(keys, (size_t)count, sizeof *keys, key_cmp);
    for (lua_Integer i = 0; i < count; i++) {
      struct key *e = &keys[i];
      add_indent(L, b, depth + 1);
      lua_pushvalue(L, e->at);
      int key_at = lua_gettop(L);
      if (!e->isnum && plain_name(e->s, e->len)) {
        buf_add(L, b, e->s, e->len);
      } else {
        buf_char(L, b, '[');
        lua_pushvalue(L, key_at);
        ser_top(L, b, 0);
        buf_char(L, b, ']');
      }
      buf_add(L, b, " = ", 3);
      lua_rawget(L, idx); /* pops the key */
      ser_top(L, b, depth + 1);
      buf_add(L, b, ",\n", 2);
    }
    lua_settop(L, keys_at - 1); /* the keys, and their array */
  }
  add_indent(L, b, depth);
  buf_char(L, b, '}');
}

/***
Plain data as Lua source: "return " .. v .. "\n" (see the file's head).
@function serialise
@param v a string, number, boolean, nil or table of them
@return the source; raises on other types and on cycles
*/
static int data_serialise(lua_State *L)
{
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  init_special();
  Buf *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  if (luaL_newmetatable(L, "wbl.data.buf")) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  buf_add(L, b, "return ", 7);
  lua_pushvalue(L, 1);
  ser_top(L, b, 0);
  buf_char(L, b, '\n');
  lua_pushlstring(L, b->p, b->len);
  free(b->p);
  b->p = NULL;
  return 1;
}

static const luaL_Reg data_funcs[] = {{"serialise", data_serialise}, {NULL, NULL}};

int wbl_open_data(lua_State *L)
{
  luaL_newlib(L, data_funcs);
  return 1;
}
