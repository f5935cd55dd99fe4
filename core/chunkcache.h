/*
 * chunkcache.h - the wbl program's Lua file loaders, with compiled chunks
 * cached by content (core/chunkcache.c).  Only the program links them; the
 * core module (core.so) leaves plain lua5.4's loaders alone.
 */
#ifndef WBL_CHUNKCACHE_H
#define WBL_CHUNKCACHE_H

#include <lua.h>

/* luaL_loadfilex, through the cache: the same results and messages. */
int wbl_loadfilex(lua_State *L, const char *filename, const char *mode);

/* Replace package.searchers[2] (Lua files on package.path), loadfile and
 * dofile by ones that load through wbl_loadfilex.  After luaL_openlibs. */
void wbl_chunkcache_install(lua_State *L);

#endif
