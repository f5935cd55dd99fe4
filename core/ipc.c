/*
 * ipc.c - System V message queues, enough to see an IPC namespace at work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "wbl.h"

/***
msgget(key, create): a queue id.  key 0 is IPC_PRIVATE.
@treturn[1] int id
@return[2] fail, message, errno
*/
static int ipc_msgget(lua_State *L)
{
  key_t key = (key_t)luaL_optinteger(L, 1, IPC_PRIVATE);
  int flags = lua_toboolean(L, 2) ? (IPC_CREAT | 0600) : 0;
  int id = msgget(key, flags);
  if (id < 0)
    return wbl_fail(L, "msgget");
  lua_pushinteger(L, id);
  return 1;
}

/* msgsnd(id, text): send a message of type 1. */
static int ipc_msgsnd(lua_State *L)
{
  int id = (int)luaL_checkinteger(L, 1);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  luaL_argcheck(L, n <= 4096, 2, "at most 4096 bytes");
  struct {
    long mtype;
    char mtext[4096];
  } m;
  m.mtype = 1;
  memcpy(m.mtext, s, n);
  return wbl_result(L, msgsnd(id, &m, n, IPC_NOWAIT) == 0, "msgsnd");
}

/* msgrcv(id): receive one message without waiting. */
static int ipc_msgrcv(lua_State *L)
{
  int id = (int)luaL_checkinteger(L, 1);
  struct {
    long mtype;
    char mtext[4096];
  } m;
  ssize_t n = msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT);
  if (n < 0)
    return wbl_fail(L, "msgrcv");
  lua_pushlstring(L, m.mtext, (size_t)n);
  return 1;
}

/* msgrm(id): remove a queue. */
static int ipc_msgrm(lua_State *L)
{
  int id = (int)luaL_checkinteger(L, 1);
  return wbl_result(L, msgctl(id, IPC_RMID, NULL) == 0, "msgctl IPC_RMID");
}

static const luaL_Reg ipc_funcs[] = {{"msgget", ipc_msgget},
                                     {"msgrcv", ipc_msgrcv},
                                     {"msgrm", ipc_msgrm},
                                     {"msgsnd", ipc_msgsnd},
                                     {NULL, NULL}};

int wbl_open_ipc(lua_State *L)
{
  luaL_newlib(L, ipc_funcs);
  return 1;
}
