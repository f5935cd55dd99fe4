/*
 * netlink.c - rtnetlink over libmnl: a "wbl.nl" socket userdata.
 *
 * One private nl_talk() sends a request and runs the ACK through
 * mnl_cb_run, which copies the kernel's error into errno; every binding
 * ends in it, so there is a single error path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "wbl.h"

typedef struct {
  struct mnl_socket *nl;
  unsigned int seq;
  unsigned int portid;
} wbl_Nl;

static wbl_Nl *checknl(lua_State *L, int arg)
{
  wbl_Nl *n = luaL_checkudata(L, arg, WBL_NL);
  luaL_argcheck(L, n->nl != NULL, arg, "attempt to use a closed netlink socket");
  return n;
}

/***
Open a NETLINK_ROUTE socket (close-on-exec), bound to the calling
process's network namespace.
@treturn[1] wbl.nl
@return[2] fail, message, errno
*/
static int nl_open(lua_State *L)
{
  wbl_Nl *n = lua_newuserdatauv(L, sizeof *n, 0);
  n->nl = NULL; /* closed until it is opened */
  luaL_setmetatable(L, WBL_NL);
  struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!s)
    return wbl_fail(L, "netlink socket");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    int en = errno;
    mnl_socket_close(s);
    return wbl_failn(L, en, "netlink bind");
  }
  n->nl = s;
  n->portid = mnl_socket_get_portid(s);
  n->seq = (unsigned int)time(NULL);
  return 1;
}

/* Send nlh, wait for the ACK.  Returns 0 or -1 with errno set. */
static int nl_talk(wbl_Nl *n, struct nlmsghdr *nlh)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++n->seq;
  if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
    return -1;
  for (;;) {
    ssize_t r = mnl_socket_recvfrom(n->nl, buf, sizeof buf);
    if (r < 0)
      return -1;
    int ret = mnl_cb_run(buf, (size_t)r, nlh->nlmsg_seq, n->portid, NULL, NULL);
    if (ret <= MNL_CB_STOP)
      return ret < 0 ? -1 : 0;
  }
}

static int ifindex_of(lua_State *L, int arg)
{
  if (lua_type(L, arg) == LUA_TNUMBER)
    return (int)luaL_checkinteger(L, arg);
  const char *name = luaL_checkstring(L, arg);
  unsigned int i = if_nametoindex(name);
  return i ? (int)i : -1;
}

/***
Change a link: nl:link_set(name, { up = true|false }).
@tparam string|int link name or index
@tparam table opts
@treturn[1] true
@return[2] fail, "RTM_NEWLINK NAME: message", errno
*/
static int nl_link_set(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  const char *label = luaL_tolstring(L, 2, NULL);
  int idx = ifindex_of(L, 2);
  if (idx < 0)
    return wbl_failf(L, "link %s", label);
  luaL_checktype(L, 3, LUA_TTABLE);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = idx;
  lua_getfield(L, 3, "up");
  if (!lua_isnil(L, -1)) {
    ifm->ifi_change |= IFF_UP;
    ifm->ifi_flags = lua_toboolean(L, -1) ? IFF_UP : 0;
  }
  lua_pop(L, 1);
  if (nl_talk(n, nlh) < 0)
    return wbl_failf(L, "RTM_NEWLINK %s", label);
  lua_pushboolean(L, 1);
  return 1;
}

static int nl_close(lua_State *L)
{
  wbl_Nl *n = luaL_checkudata(L, 1, WBL_NL);
  struct mnl_socket *s = n->nl;
  n->nl = NULL;
  if (s)
    mnl_socket_close(s);
  lua_pushboolean(L, 1);
  return 1;
}

static int nl_tostring(lua_State *L)
{
  wbl_Nl *n = luaL_checkudata(L, 1, WBL_NL);
  lua_pushstring(L, n->nl ? "wbl.nl" : "wbl.nl (closed)");
  return 1;
}

static const luaL_Reg nl_methods[] = {
    {"close", nl_close}, {"link_set", nl_link_set}, {NULL, NULL}};

static const luaL_Reg nl_meta[] = {{"__index", NULL},
                                   {"__gc", nl_close},
                                   {"__close", nl_close},
                                   {"__tostring", nl_tostring},
                                   {NULL, NULL}};

static const luaL_Reg nl_funcs[] = {{"open", nl_open}, {NULL, NULL}};

int wbl_open_nl(lua_State *L)
{
  luaL_newmetatable(L, WBL_NL);
  luaL_setfuncs(L, nl_meta, 0);
  luaL_newlib(L, nl_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, nl_funcs);
  return 1;
}
