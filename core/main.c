/*
 * main.c - the wbl program: a Lua 5.4 host with the core built in.
 *
 *   wbl SCRIPT [ARGS...]   run SCRIPT with the standard `arg` table
 *   wbl -e CODE [ARGS...]  run a chunk
 *   wbl --version | --help
 *
 * package.path starts with the project's lua/ directory, found next to the
 * binary (build tree: BIN/../lua; installed: BIN/../share/wbl/lua) unless
 * WBL_LUA_DIR names another.  A SCRIPT that is not a path is also looked
 * up in the scripts directory (WBL_SCRIPTS_DIR, BIN/../scripts or
 * BIN/../share/wbl/scripts), so an installed `wbl run` finds run.lua; so
 * is one given as the source tree's path (`wbl scripts/run.lua`) where no
 * such file is (outside the tree).  A name found nowhere is an error that
 * lists the scripts there are.
 *
 * Called as `wbl-oci` (a link to wbl, what `make install` puts next to
 * it), it is `wbl oci ...`: the OCI runtime command line, scripts/oci.lua.
 *
 * Lua files (require's, loadfile's, dofile's and SCRIPT) load through a
 * cache of their compiled chunks, found by content: core/chunkcache.c
 * (WBL_CACHE names its directory; empty: none).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lualib.h>

#include "chunkcache.h"
#include "wbl.h"

static const char usage[] =
    "usage: wbl SCRIPT [ARGS...]    run a Lua script (e.g. wbl scripts/run.lua sh)\n"
    "       wbl -e CODE [ARGS...]   run a chunk of Lua\n"
    "       wbl --version           print the version\n"
    "       wbl --help              print this help\n"
    "\n"
    "SCRIPT may be a script's name: wbl run, wbl ps, ... (the scripts directory's\n"
    "NAME.lua; a name that is none lists them).  Try: wbl run --help\n";

static int isdir(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int isfile(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* First existing directory among $env, BIN/../a, BIN/../b; into out. */
static void find_dir(char *out, size_t n, const char *env, const char *bindir,
                     const char *a, const char *b)
{
  const char *e = getenv(env);
  if (e && *e) {
    snprintf(out, n, "%s", e);
    return;
  }
  snprintf(out, n, "%s/../%s", bindir, a);
  if (isdir(out))
    return;
  snprintf(out, n, "%s/../%s", bindir, b);
}

static int lua_name(const struct dirent *d)
{
  size_t n = strlen(d->d_name);
  return n > 4 && d->d_name[0] != '.' && strcmp(d->d_name + n - 4, ".lua") == 0;
}

/* The scripts in dir, by name (NAME.lua, sorted), to stderr. */
static void list_scripts(const char *dir)
{
  struct dirent **names;
  int n = scandir(dir, &names, lua_name, alphasort);
  if (n < 0) {
    fprintf(stderr, "wbl: no scripts directory %s\n", dir);
    return;
  }
  char real[PATH_MAX];
  fprintf(stderr, "wbl: the scripts in %s:", realpath(dir, real) ? real : dir);
  for (int i = 0; i < n; i++) {
    fprintf(stderr, " %.*s", (int)strlen(names[i]->d_name) - 4, names[i]->d_name);
    free(names[i]);
  }
  free(names);
  fputc('\n', stderr);
}

/* Is script a name, or a path into a directory called scripts (the source
 * tree's scripts/run.lua)?  Then the scripts directory's file of that name
 * stands in where no such file is here. */
static const char *script_name(const char *script)
{
  const char *slash = strrchr(script, '/');
  if (!slash)
    return script;
  if (script[0] == '/')
    return NULL;
  const char *dir = slash;
  while (dir > script && dir[-1] != '/')
    dir--;
  return (slash - dir == 7 && strncmp(dir, "scripts", 7) == 0) ? slash + 1 : NULL;
}

static int traceback(lua_State *L)
{
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int report(lua_State *L, int status)
{
  if (status != LUA_OK) {
    fprintf(stderr, "wbl: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return status;
}

/* arg table: arg[0] = script (or "-e"), arg[1..] = args, arg[-1] = wbl. */
static void make_arg(lua_State *L, char **argv, int argc, int script)
{
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_chunk(lua_State *L, int status, char **argv, int argc, int first)
{
  if (status != LUA_OK)
    return report(L, status);
  int n = argc - first;
  luaL_checkstack(L, n + 3, "too many arguments");
  lua_pushcfunction(L, traceback);
  lua_insert(L, -2);
  for (int i = first; i < argc; i++)
    lua_pushstring(L, argv[i]);
  status = lua_pcall(L, n, 0, -n - 2);
  lua_remove(L, 1);
  return report(L, status);
}

int main(int argc, char **argv)
{
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  if (strcmp(base, "wbl-oci") == 0) { /* wbl-oci ARGS... is wbl oci ARGS... */
    char **v = calloc((size_t)argc + 2, sizeof *v);
    if (!v) {
      fputs("wbl: out of memory\n", stderr);
      return 1;
    }
    v[0] = argv[0];
    v[1] = "oci";
    for (int i = 1; i < argc; i++)
      v[i + 1] = argv[i];
    argv = v;
    argc++;
  }
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0) {
    printf("wbl %s (%s)\n", WBL_VERSION, LUA_RELEASE);
    return 0;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(usage, stdout);
    return 0;
  }

  char exe[PATH_MAX], bindir[PATH_MAX], luadir[PATH_MAX], scriptsdir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) {
    perror("wbl: readlink /proc/self/exe");
    return 1;
  }
  exe[n] = 0;
  snprintf(bindir, sizeof bindir, "%s", exe);
  char *slash = strrchr(bindir, '/');
  if (slash)
    *slash = 0;
  find_dir(luadir, sizeof luadir, "WBL_LUA_DIR", bindir, "lua", "share/wbl/lua");
  find_dir(scriptsdir, sizeof scriptsdir, "WBL_SCRIPTS_DIR", bindir, "scripts",
           "share/wbl/scripts");

  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("wbl: cannot create Lua state: not enough memory\n", stderr);
    return 1;
  }
  luaL_openlibs(L);
  wbl_chunkcache_install(L);

  /* require "wbl.core" is the built-in core. */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_wbl_core);
  lua_setfield(L, -2, "wbl.core");
  lua_pop(L, 1);

  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", luadir, luadir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  /* package.wbl: where this wbl found its parts. */
  lua_newtable(L);
  lua_pushstring(L, exe);
  lua_setfield(L, -2, "exe");
  lua_pushstring(L, luadir);
  lua_setfield(L, -2, "lua_dir");
  lua_pushstring(L, scriptsdir);
  lua_setfield(L, -2, "scripts_dir");
  lua_setfield(L, -2, "wbl");
  lua_pop(L, 1);

  int status;
  if (strcmp(argv[1], "-e") == 0) {
    if (argc < 3) {
      fputs("wbl: -e needs an argument\n", stderr);
      lua_close(L);
      return 2;
    }
    make_arg(L, argv, argc, 1);
    status = luaL_loadbuffer(L, argv[2], strlen(argv[2]), "=(command line)");
    status = run_chunk(L, status, argv, argc, 3);
  } else {
    const char *script = argv[1];
    const char *name = script_name(script);
    char found[2 * PATH_MAX + 8];
    if (!isfile(script) && name && *name) {
      snprintf(found, sizeof found, "%s/%s", scriptsdir, name);
      if (!isfile(found))
        snprintf(found, sizeof found, "%s/%s.lua", scriptsdir, name);
      if (isfile(found))
        script = found;
    }
    if (!isfile(script) && name) {
      fprintf(stderr, "wbl: %s: no such script, nor a file of that name here\n", script);
      list_scripts(scriptsdir);
      lua_close(L);
      return 1;
    }
    argv[1] = (char *)script;
    make_arg(L, argv, argc, 1);
    status = wbl_loadfilex(L, script, NULL);
    status = run_chunk(L, status, argv, argc, 2);
  }
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
