/*
 * netlink.c - rtnetlink over libmnl: a "wbl.nl" socket userdata.
 *
 * One private nl_talk() sends a request and runs every answer through
 * mnl_cb_run2; its NLMSG_ERROR callback copies the kernel's error into
 * errno and keeps the kernel's extended-ack text (NETLINK_EXT_ACK), so
 * every binding ends in one error path: nil, "RTM_X NAME: strerror: text",
 * errno.  Links are named or given by index; names are looked up over the
 * socket itself (RTM_GETLINK), so a socket opened in another network
 * namespace resolves names there.
 *
 * How a veth is made, in one place: nl_link_add below (IFLA_LINKINFO ->
 * IFLA_INFO_KIND "veth" -> IFLA_INFO_DATA -> VETH_INFO_PEER, which holds
 * the peer's own ifinfomsg and attributes, its namespace among them).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "wbl.h"

#define NL_BUFSIZE 32768 /* big enough for one dump datagram */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h; clashes with net/if.h */
#endif

typedef struct {
  struct mnl_socket *nl;
  unsigned int seq;
  unsigned int portid;
  char extack[256]; /* the kernel's text for the last error, or "" */
} wbl_Nl;

static wbl_Nl *checknl(lua_State *L, int arg)
{
  wbl_Nl *n = luaL_checkudata(L, arg, WBL_NL);
  luaL_argcheck(L, n->nl != NULL, arg, "attempt to use a closed netlink socket");
  return n;
}

/* nil, "what: strerror(errno)[: extack]", errno */
static int nl_fail(lua_State *L, wbl_Nl *n, const char *fmt, ...)
{
  int en = errno;
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  luaL_pushfail(L);
  if (n && n->extack[0])
    lua_pushfstring(L, "%s: %s: %s", what, strerror(en), n->extack);
  else
    lua_pushfstring(L, "%s: %s", what, strerror(en));
  lua_pushinteger(L, en);
  return 3;
}

/***
Open a NETLINK_ROUTE socket (close-on-exec) with extended acks.
@tparam[opt] string|wbl.fd|int netns a network namespace (a path such as
  /proc/PID/ns/net, or an fd of one): the socket is made there, and every
  request on it acts there.  Default: the caller's namespace.
@treturn[1] wbl.nl
@return[2] fail, message, errno
*/
static int nl_open(lua_State *L)
{
  int target = -1, own = 0, back = -1;
  const char *path = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
  if (!path && !lua_isnoneornil(L, 1))
    target = wbl_checkfd(L, 1);
  /* The userdata first, closed: from here on nothing raises until the
   * socket is in it (a memory error would leak what is opened below). */
  wbl_Nl *n = lua_newuserdatauv(L, sizeof *n, 0);
  n->nl = NULL; /* closed until it is opened */
  n->extack[0] = '\0';
  luaL_setmetatable(L, WBL_NL);
  if (path) {
    target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0)
      return wbl_failf(L, "open %s", path);
    own = 1;
  }
  if (target >= 0) {
    back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (back < 0 || setns(target, CLONE_NEWNET) < 0) {
      int en = errno;
      if (back >= 0)
        close(back);
      if (own)
        close(target);
      return wbl_failn(L, en, "setns net");
    }
  }
  struct mnl_socket *s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  int en = errno;
  if (back >= 0) {
    int r = setns(back, CLONE_NEWNET);
    close(back);
    if (r < 0) {
      if (own)
        close(target);
      if (s)
        mnl_socket_close(s);
      return luaL_error(L, "netlink open: cannot return to the caller's network namespace");
    }
  }
  if (own)
    close(target);
  if (!s)
    return wbl_failn(L, en, "netlink socket");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    en = errno;
    mnl_socket_close(s);
    return wbl_failn(L, en, "netlink bind");
  }
  int one = 1;
  mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof one);
  n->nl = s;
  n->portid = mnl_socket_get_portid(s);
  n->seq = (unsigned int)time(NULL);
  return 1;
}

static int extack_attr(const struct nlattr *a, void *data)
{
  wbl_Nl *n = data;
  if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
    snprintf(n->extack, sizeof n->extack, "%s", mnl_attr_get_str(a));
  return MNL_CB_OK;
}

/* NLMSG_ERROR: errno from the kernel, and its extended-ack text. */
static int nl_cb_error(const struct nlmsghdr *nlh, void *data)
{
  wbl_Nl *n = data;
  const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *err)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    unsigned int off = sizeof *err;
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
      off += err->msg.nlmsg_len - sizeof err->msg;
    if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
      mnl_attr_parse(nlh, off, extack_attr, n);
  }
  if (err->error == 0)
    return MNL_CB_STOP;
  errno = err->error < 0 ? -err->error : err->error;
  return MNL_CB_ERROR;
}

/* NLMSG_DONE ends a dump (its payload, when there is one, is an error). */
static int nl_cb_done(const struct nlmsghdr *nlh, void *data)
{
  (void)data;
  if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
    int e = *(int *)mnl_nlmsg_get_payload(nlh);
    if (e < 0) {
      errno = -e;
      return MNL_CB_ERROR;
    }
  }
  return MNL_CB_STOP;
}

static int nl_cb_overrun(const struct nlmsghdr *nlh, void *data)
{
  (void)nlh;
  (void)data;
  errno = ENOSPC;
  return MNL_CB_ERROR;
}

/* Send nlh, run the answers (through cb, if any) until the ACK or the end
 * of a dump.  Returns 0, or -1 with errno set (the kernel's error, and its
 * extended-ack text in n->extack). */
static int nl_talk(wbl_Nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
  static char buf[NL_BUFSIZE]; /* the core is single-threaded */
  mnl_cb_t ctl[NLMSG_MIN_TYPE] = {0};
  ctl[NLMSG_ERROR] = nl_cb_error;
  ctl[NLMSG_DONE] = nl_cb_done;
  ctl[NLMSG_OVERRUN] = nl_cb_overrun;
  n->extack[0] = '\0';
  nlh->nlmsg_flags |= NLM_F_REQUEST;
  /* NLM_F_DUMP shares bits with NLM_F_EXCL and NLM_F_CREATE: a dump is a
   * RTM_GET* (type % 4 == 2) with both bits. */
  int is_dump = (nlh->nlmsg_type & 3) == 2 && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!is_dump)
    nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++n->seq;
  if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
    return -1;
  for (;;) {
    ssize_t r = mnl_socket_recvfrom(n->nl, buf, sizeof buf);
    if (r < 0)
      return -1;
    /* nl_cb_error needs n, the data callbacks their own state. */
    struct nlmsghdr *m = (struct nlmsghdr *)buf;
    int len = (int)r;
    int ret = MNL_CB_OK;
    while (mnl_nlmsg_ok(m, len)) {
      ret = mnl_cb_run2(m, m->nlmsg_len, nlh->nlmsg_seq, n->portid,
                        m->nlmsg_type == NLMSG_ERROR ? NULL : cb,
                        m->nlmsg_type == NLMSG_ERROR ? n : data, ctl,
                        NLMSG_MIN_TYPE);
      if (ret <= MNL_CB_STOP)
        return ret < 0 ? -1 : 0;
      m = mnl_nlmsg_next(m, &len);
    }
  }
}

/* ---- link references ------------------------------------------------ */

static int cb_index(const struct nlmsghdr *nlh, void *data)
{
  if (nlh->nlmsg_type == RTM_NEWLINK) {
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    *(int *)data = ifm->ifi_index;
  }
  return MNL_CB_OK;
}

/* The index of a link named name in the socket's namespace, or -1 with
 * errno (ENODEV when there is none). */
static int nl_index(wbl_Nl *n, const char *name)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_str(nlh, IFLA_IFNAME, name);
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  int idx = 0;
  if (nl_talk(n, nlh, cb_index, &idx) < 0)
    return -1;
  if (idx <= 0) {
    errno = ENODEV;
    return -1;
  }
  return idx;
}

/* A link argument: an index, or a name looked up on the socket. */
static int link_arg(lua_State *L, wbl_Nl *n, int arg)
{
  if (lua_type(L, arg) == LUA_TNUMBER)
    return (int)luaL_checkinteger(L, arg);
  return nl_index(n, luaL_checkstring(L, arg));
}

static int opt_field(lua_State *L, int t, const char *k)
{
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

static void put_mac(lua_State *L, struct nlmsghdr *nlh, int type, int t, const char *k)
{
  if (!opt_field(L, t, k))
    return;
  const char *s = luaL_checkstring(L, -1);
  unsigned char mac[6];
  char end;
  if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%c", &mac[0], &mac[1], &mac[2],
             &mac[3], &mac[4], &mac[5], &end) != 6)
    luaL_error(L, "bad MAC address '%s' (expected aa:bb:cc:dd:ee:ff)", s);
  mnl_attr_put(nlh, type, sizeof mac, mac);
  lua_pop(L, 1);
}

static void put_u32_opt(lua_State *L, struct nlmsghdr *nlh, int type, int t, const char *k)
{
  if (!opt_field(L, t, k))
    return;
  mnl_attr_put_u32(nlh, type, (uint32_t)luaL_checkinteger(L, -1));
  lua_pop(L, 1);
}

/* A namespace given as { pid = N } or { fd = wbl.fd|int } (keys prefixed). */
static void put_netns(lua_State *L, struct nlmsghdr *nlh, int t, const char *pidk,
                      const char *fdk)
{
  if (opt_field(L, t, pidk)) {
    mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)luaL_checkinteger(L, -1));
    lua_pop(L, 1);
  }
  if (opt_field(L, t, fdk)) {
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)wbl_checkfd(L, lua_gettop(L)));
    lua_pop(L, 1);
  }
}

/***
Create a link: nl:link_add{ name=, kind="veth"|"bridge"|"dummy"|..., peer=,
mtu=, address= }.  For a veth, peer is the other end's name, or a table
{ name=, pid= | fd= } that creates it directly in the network namespace of
that process (pid) or namespace file (fd).
@treturn[1] true
@return[2] fail, "RTM_NEWLINK NAME: message", errno (EEXIST: name taken)
*/
static int nl_link_add(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "name");
  const char *name = luaL_checkstring(L, -1);
  lua_getfield(L, 2, "kind");
  const char *kind = luaL_checkstring(L, -1);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_str(nlh, IFLA_IFNAME, name);
  put_u32_opt(L, nlh, IFLA_MTU, 2, "mtu");
  put_mac(L, nlh, IFLA_ADDRESS, 2, "address");
  struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_str(nlh, IFLA_INFO_KIND, kind);
  if (opt_field(L, 2, "peer")) {
    int p = lua_gettop(L);
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof *pifm);
    pifm->ifi_family = AF_UNSPEC;
    if (lua_type(L, p) == LUA_TTABLE) {
      lua_getfield(L, p, "name");
      mnl_attr_put_str(nlh, IFLA_IFNAME, luaL_checkstring(L, -1));
      lua_pop(L, 1);
      put_netns(L, nlh, p, "pid", "fd");
      put_u32_opt(L, nlh, IFLA_MTU, p, "mtu");
      put_mac(L, nlh, IFLA_ADDRESS, p, "address");
    } else {
      mnl_attr_put_str(nlh, IFLA_IFNAME, luaL_checkstring(L, p));
    }
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    lua_pop(L, 1);
  }
  mnl_attr_nest_end(nlh, info);
  if (nl_talk(n, nlh, NULL, NULL) < 0)
    return nl_fail(L, n, "RTM_NEWLINK %s", name);
  lua_pushboolean(L, 1);
  return 1;
}

/***
Change a link: nl:link_set(link, { up=, master=NAME|index|false, name=,
mtu=, address=, netns_pid=, netns_fd= }).  name renames (the link must be
down); master=false takes it off its bridge; netns_* moves it.
@tparam string|int link name or index
@treturn[1] true
@return[2] fail, "RTM_NEWLINK NAME: message", errno
*/
static int nl_link_set(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  const char *label = luaL_tolstring(L, 2, NULL);
  luaL_checktype(L, 3, LUA_TTABLE);
  int idx = link_arg(L, n, 2);
  if (idx < 0)
    return nl_fail(L, n, "link %s", label);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = idx;
  if (opt_field(L, 3, "up")) {
    ifm->ifi_change |= IFF_UP;
    ifm->ifi_flags = lua_toboolean(L, -1) ? IFF_UP : 0;
    lua_pop(L, 1);
  }
  if (opt_field(L, 3, "master")) {
    int m = 0;
    if (lua_type(L, -1) != LUA_TBOOLEAN || lua_toboolean(L, -1)) {
      m = link_arg(L, n, lua_gettop(L));
      if (m < 0)
        return nl_fail(L, n, "RTM_NEWLINK %s: master %s", label, lua_tostring(L, -1));
    }
    mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)m);
    lua_pop(L, 1);
  }
  if (opt_field(L, 3, "name")) {
    mnl_attr_put_str(nlh, IFLA_IFNAME, luaL_checkstring(L, -1));
    lua_pop(L, 1);
  }
  put_u32_opt(L, nlh, IFLA_MTU, 3, "mtu");
  put_mac(L, nlh, IFLA_ADDRESS, 3, "address");
  put_netns(L, nlh, 3, "netns_pid", "netns_fd");
  if (nl_talk(n, nlh, NULL, NULL) < 0)
    return nl_fail(L, n, "RTM_NEWLINK %s", label);
  lua_pushboolean(L, 1);
  return 1;
}

/***
Delete a link (a veth's peer goes with it).
@treturn[1] true
@return[2] fail, "RTM_DELLINK NAME: message", errno (ENODEV: no such link)
*/
static int nl_link_del(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  const char *label = luaL_tolstring(L, 2, NULL);
  int idx = link_arg(L, n, 2);
  if (idx < 0)
    return nl_fail(L, n, "RTM_DELLINK %s", label);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_DELLINK;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = idx;
  if (nl_talk(n, nlh, NULL, NULL) < 0)
    return nl_fail(L, n, "RTM_DELLINK %s", label);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- dumps ------------------------------------------------------------ */

typedef struct {
  lua_State *L;
  int t;     /* the result table's stack index */
  int index; /* only this ifindex (0: all) */
} Dump;

static void append(lua_State *L, int t)
{
  lua_rawseti(L, t, (lua_Integer)lua_rawlen(L, t) + 1);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

static void set_ip(lua_State *L, const char *k, int family, const void *p)
{
  char s[INET6_ADDRSTRLEN];
  if (inet_ntop(family, p, s, sizeof s))
    set_str(L, k, s);
}

typedef struct {
  const struct nlattr *a[IFLA_MAX + 1];
} LinkAttrs;

static int link_attr(const struct nlattr *a, void *data)
{
  int type = mnl_attr_get_type(a);
  if (type <= IFLA_MAX && mnl_attr_type_valid(a, IFLA_MAX) > 0)
    ((LinkAttrs *)data)->a[type] = a;
  return MNL_CB_OK;
}

static int info_kind(const struct nlattr *a, void *data)
{
  if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
    *(const char **)data = mnl_attr_get_str(a);
  return MNL_CB_OK;
}

static int cb_link(const struct nlmsghdr *nlh, void *data)
{
  Dump *d = data;
  lua_State *L = d->L;
  const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_type != RTM_NEWLINK || (d->index && ifm->ifi_index != d->index))
    return MNL_CB_OK;
  LinkAttrs la = {0};
  mnl_attr_parse(nlh, sizeof *ifm, link_attr, &la);
  lua_newtable(L);
  set_int(L, "index", ifm->ifi_index);
  set_int(L, "flags", ifm->ifi_flags);
  set_bool(L, "up", (ifm->ifi_flags & IFF_UP) != 0);
  set_bool(L, "lower_up", (ifm->ifi_flags & IFF_LOWER_UP) != 0);
  if (la.a[IFLA_IFNAME])
    set_str(L, "name", mnl_attr_get_str(la.a[IFLA_IFNAME]));
  if (la.a[IFLA_MTU])
    set_int(L, "mtu", mnl_attr_get_u32(la.a[IFLA_MTU]));
  if (la.a[IFLA_MASTER])
    set_int(L, "master", mnl_attr_get_u32(la.a[IFLA_MASTER]));
  if (la.a[IFLA_LINK])
    set_int(L, "link", mnl_attr_get_u32(la.a[IFLA_LINK]));
  if (la.a[IFLA_LINK_NETNSID])
    set_int(L, "link_netnsid", (int32_t)mnl_attr_get_u32(la.a[IFLA_LINK_NETNSID]));
  if (la.a[IFLA_ADDRESS] && mnl_attr_get_payload_len(la.a[IFLA_ADDRESS]) == 6) {
    const unsigned char *m = mnl_attr_get_payload(la.a[IFLA_ADDRESS]);
    char s[18];
    snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
             m[4], m[5]);
    set_str(L, "address", s);
  }
  if (la.a[IFLA_LINKINFO]) {
    const char *kind = NULL;
    mnl_attr_parse_nested(la.a[IFLA_LINKINFO], info_kind, &kind);
    if (kind)
      set_str(L, "kind", kind);
  }
  append(L, d->t);
  return MNL_CB_OK;
}

static int dump(lua_State *L, wbl_Nl *n, int type, int family, mnl_cb_t cb, int index,
                const char *what)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_DUMP;
  if (type == RTM_GETLINK) {
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = family;
    mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  } else if (type == RTM_GETADDR) {
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = family;
  } else {
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
    rtm->rtm_family = family;
  }
  lua_newtable(L);
  Dump d = {L, lua_gettop(L), index};
  if (nl_talk(n, nlh, cb, &d) < 0)
    return nl_fail(L, n, "%s", what);
  return 1;
}

static const char *const families[] = {"all", "inet", "inet6", NULL};
static const int family_of[] = {AF_UNSPEC, AF_INET, AF_INET6};

/***
The links of the socket's namespace: a list of { index, name, kind, mtu,
address, up, lower_up, flags, master, link }.
@treturn[1] table
@return[2] fail, message, errno
*/
static int nl_links(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  return dump(L, n, RTM_GETLINK, AF_UNSPEC, cb_link, 0, "RTM_GETLINK");
}

/***
One link, by name or index: a table as in nl:links().
@return[2] fail, "link NAME: No such device", ENODEV
*/
static int nl_link(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  const char *label = luaL_tolstring(L, 2, NULL);
  int idx = link_arg(L, n, 2);
  if (idx < 0)
    return nl_fail(L, n, "link %s", label);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = idx;
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  lua_newtable(L);
  Dump d = {L, lua_gettop(L), idx};
  if (nl_talk(n, nlh, cb_link, &d) < 0)
    return nl_fail(L, n, "link %s", label);
  lua_rawgeti(L, -1, 1);
  return 1;
}

/* ---- addresses ---------------------------------------------------------- */

/* "10.0.0.2/24" or "fd00::2/64" (or no /len: a host address). */
static int parse_prefix(const char *s, int *family, void *addr, int *len)
{
  char tmp[INET6_ADDRSTRLEN + 8];
  snprintf(tmp, sizeof tmp, "%s", s);
  char *slash = strchr(tmp, '/');
  if (slash)
    *slash++ = '\0';
  if (inet_pton(AF_INET, tmp, addr) == 1)
    *family = AF_INET;
  else if (inet_pton(AF_INET6, tmp, addr) == 1)
    *family = AF_INET6;
  else
    return -1;
  int max = *family == AF_INET ? 32 : 128;
  if (!slash) {
    *len = max;
    return 0;
  }
  char *end;
  long l = strtol(slash, &end, 10);
  if (*slash == '\0' || *end != '\0' || l < 0 || l > max)
    return -1;
  *len = (int)l;
  return 0;
}

static int addr_change(lua_State *L, int type)
{
  wbl_Nl *n = checknl(L, 1);
  const char *label = luaL_tolstring(L, 2, NULL);
  const char *cidr = luaL_checkstring(L, 3);
  int family, len;
  unsigned char addr[16];
  if (parse_prefix(cidr, &family, addr, &len) < 0)
    return luaL_argerror(L, 3, "expected ADDRESS/PREFIXLEN (IPv4 or IPv6)");
  int nodad = 0;
  if (lua_istable(L, 4)) {
    lua_getfield(L, 4, "nodad");
    nodad = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  const char *op = type == RTM_NEWADDR ? "RTM_NEWADDR" : "RTM_DELADDR";
  int idx = link_arg(L, n, 2);
  if (idx < 0)
    return nl_fail(L, n, "%s %s %s", op, cidr, label);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  if (type == RTM_NEWADDR)
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
  ifa->ifa_family = family;
  ifa->ifa_prefixlen = len;
  ifa->ifa_index = idx;
  size_t alen = family == AF_INET ? 4 : 16;
  mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
  mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
  if (nodad)
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  if (nl_talk(n, nlh, NULL, NULL) < 0)
    return nl_fail(L, n, "%s %s %s", op, cidr, label);
  lua_pushboolean(L, 1);
  return 1;
}

/***
Add an address: nl:addr_add(link, "10.0.0.2/24" | "fd00::2/64", { nodad = true }).
nodad: an IPv6 address usable at once (no duplicate address detection).
@return[2] fail, "RTM_NEWADDR ADDR LINK: message", errno (EEXIST: already there)
*/
static int nl_addr_add(lua_State *L) { return addr_change(L, RTM_NEWADDR); }

/***
Delete an address: nl:addr_del(link, "10.0.0.2/24").
@return[2] fail, "RTM_DELADDR ADDR LINK: message", errno (EADDRNOTAVAIL: not there)
*/
static int nl_addr_del(lua_State *L) { return addr_change(L, RTM_DELADDR); }

static int addr_attr(const struct nlattr *a, void *data)
{
  int type = mnl_attr_get_type(a);
  if (type <= IFA_MAX && mnl_attr_type_valid(a, IFA_MAX) > 0)
    ((const struct nlattr **)data)[type] = a;
  return MNL_CB_OK;
}

static int cb_addr(const struct nlmsghdr *nlh, void *data)
{
  Dump *d = data;
  lua_State *L = d->L;
  const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_type != RTM_NEWADDR || (d->index && (int)ifa->ifa_index != d->index))
    return MNL_CB_OK;
  const struct nlattr *a[IFA_MAX + 1] = {0};
  mnl_attr_parse(nlh, sizeof *ifa, addr_attr, a);
  const struct nlattr *ip = a[IFA_LOCAL] ? a[IFA_LOCAL] : a[IFA_ADDRESS];
  lua_newtable(L);
  set_int(L, "index", ifa->ifa_index);
  set_str(L, "family", ifa->ifa_family == AF_INET ? "inet" : "inet6");
  set_int(L, "prefixlen", ifa->ifa_prefixlen);
  set_int(L, "scope", ifa->ifa_scope);
  uint32_t flags = a[IFA_FLAGS] ? mnl_attr_get_u32(a[IFA_FLAGS]) : ifa->ifa_flags;
  set_int(L, "flags", flags);
  set_bool(L, "tentative", (flags & IFA_F_TENTATIVE) != 0);
  if (ip)
    set_ip(L, "address", ifa->ifa_family, mnl_attr_get_payload(ip));
  if (a[IFA_LABEL])
    set_str(L, "label", mnl_attr_get_str(a[IFA_LABEL]));
  append(L, d->t);
  return MNL_CB_OK;
}

/***
Addresses: nl:addrs([link[, "inet"|"inet6"|"all"]]): a list of { index,
family, address, prefixlen, scope, flags, tentative, label }.
@return[2] fail, message, errno (ENODEV: no such link)
*/
static int nl_addrs(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  int idx = 0;
  if (!lua_isnoneornil(L, 2)) {
    const char *label = luaL_tolstring(L, 2, NULL);
    lua_pop(L, 1);
    idx = link_arg(L, n, 2);
    if (idx < 0)
      return nl_fail(L, n, "link %s", label);
  }
  int fam = family_of[luaL_checkoption(L, 3, "all", families)];
  return dump(L, n, RTM_GETADDR, fam, cb_addr, idx, "RTM_GETADDR");
}

/* ---- routes -------------------------------------------------------------- */

/* { dst = "default"|"10.0.0.0/8", gateway =, dev =, metric =, table = } */
static int route_change(lua_State *L, int type)
{
  wbl_Nl *n = checknl(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *op = type == RTM_NEWROUTE ? "RTM_NEWROUTE" : "RTM_DELROUTE";
  lua_getfield(L, 2, "dst");
  const char *dst = luaL_optstring(L, -1, "default");
  lua_getfield(L, 2, "gateway");
  const char *gw = luaL_optstring(L, -1, NULL);
  lua_getfield(L, 2, "dev");
  int has_dev = !lua_isnil(L, -1);
  const char *dev = has_dev ? luaL_tolstring(L, -1, NULL) : NULL;
  int family = AF_UNSPEC, dlen = 0, gfamily = AF_UNSPEC, glen;
  unsigned char daddr[16], gaddr[16];
  int is_default = strcmp(dst, "default") == 0;
  if (!is_default && parse_prefix(dst, &family, daddr, &dlen) < 0)
    return luaL_error(L, "%s: bad dst '%s' (expected default or ADDRESS/LEN)", op, dst);
  if (gw && (parse_prefix(gw, &gfamily, gaddr, &glen) < 0 || strchr(gw, '/')))
    return luaL_error(L, "%s: bad gateway '%s'", op, gw);
  if (family == AF_UNSPEC)
    family = gfamily;
  if (family == AF_UNSPEC) {
    lua_getfield(L, 2, "family");
    family = family_of[luaL_checkoption(L, -1, "inet", families)];
  }
  if (gfamily != AF_UNSPEC && gfamily != family)
    return luaL_error(L, "%s: dst %s and gateway %s differ in family", op, dst, gw);
  if (!gw && !has_dev)
    return luaL_error(L, "%s %s: needs a gateway or a dev", op, dst);
  int oif = 0;
  if (has_dev) {
    lua_getfield(L, 2, "dev");
    oif = link_arg(L, n, lua_gettop(L));
    if (oif < 0)
      return nl_fail(L, n, "%s %s dev %s", op, dst, dev);
  }
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  if (type == RTM_NEWROUTE)
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
  rtm->rtm_family = family;
  rtm->rtm_dst_len = dlen;
  rtm->rtm_table = RT_TABLE_MAIN;
  if (type == RTM_NEWROUTE) {
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
  } else {
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
  }
  size_t alen = family == AF_INET ? 4 : 16;
  if (!is_default)
    mnl_attr_put(nlh, RTA_DST, alen, daddr);
  if (gw)
    mnl_attr_put(nlh, RTA_GATEWAY, alen, gaddr);
  if (oif)
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
  put_u32_opt(L, nlh, RTA_PRIORITY, 2, "metric");
  if (opt_field(L, 2, "table")) {
    uint32_t t = (uint32_t)luaL_checkinteger(L, -1);
    rtm->rtm_table = t < 256 ? t : RT_TABLE_UNSPEC;
    mnl_attr_put_u32(nlh, RTA_TABLE, t);
    lua_pop(L, 1);
  }
  if (nl_talk(n, nlh, NULL, NULL) < 0)
    return nl_fail(L, n, "%s %s%s%s%s%s", op, dst, gw ? " via " : "", gw ? gw : "",
                   dev ? " dev " : "", dev ? dev : "");
  lua_pushboolean(L, 1);
  return 1;
}

/***
Add a route: nl:route_add{ dst = "default"|"CIDR", gateway = IP, dev = LINK,
metric = N, table = N }.  The family follows dst or gateway.
@return[2] fail, "RTM_NEWROUTE DST via GW dev DEV: message", errno
*/
static int nl_route_add(lua_State *L) { return route_change(L, RTM_NEWROUTE); }

/***
Delete a route: the same table as nl:route_add.
@return[2] fail, "RTM_DELROUTE ...: message", errno (ESRCH: no such route)
*/
static int nl_route_del(lua_State *L) { return route_change(L, RTM_DELROUTE); }

static int route_attr(const struct nlattr *a, void *data)
{
  int type = mnl_attr_get_type(a);
  if (type <= RTA_MAX && mnl_attr_type_valid(a, RTA_MAX) > 0)
    ((const struct nlattr **)data)[type] = a;
  return MNL_CB_OK;
}

static int cb_route(const struct nlmsghdr *nlh, void *data)
{
  Dump *d = data;
  lua_State *L = d->L;
  const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
  if (nlh->nlmsg_type != RTM_NEWROUTE)
    return MNL_CB_OK;
  const struct nlattr *a[RTA_MAX + 1] = {0};
  mnl_attr_parse(nlh, sizeof *rtm, route_attr, a);
  lua_newtable(L);
  set_str(L, "family", rtm->rtm_family == AF_INET ? "inet" : "inet6");
  set_int(L, "dst_len", rtm->rtm_dst_len);
  set_int(L, "table", a[RTA_TABLE] ? mnl_attr_get_u32(a[RTA_TABLE]) : rtm->rtm_table);
  set_int(L, "type", rtm->rtm_type);
  set_int(L, "scope", rtm->rtm_scope);
  set_int(L, "protocol", rtm->rtm_protocol);
  if (a[RTA_DST])
    set_ip(L, "dst", rtm->rtm_family, mnl_attr_get_payload(a[RTA_DST]));
  else
    set_str(L, "dst", "default");
  if (a[RTA_GATEWAY])
    set_ip(L, "gateway", rtm->rtm_family, mnl_attr_get_payload(a[RTA_GATEWAY]));
  if (a[RTA_PREFSRC])
    set_ip(L, "prefsrc", rtm->rtm_family, mnl_attr_get_payload(a[RTA_PREFSRC]));
  if (a[RTA_OIF])
    set_int(L, "oif", mnl_attr_get_u32(a[RTA_OIF]));
  if (a[RTA_PRIORITY])
    set_int(L, "metric", mnl_attr_get_u32(a[RTA_PRIORITY]));
  append(L, d->t);
  return MNL_CB_OK;
}

/***
Routes, every table: nl:routes(["inet"|"inet6"|"all"]): a list of { family,
dst ("default" or an address), dst_len, gateway, oif, metric, table, type,
scope, protocol, prefsrc }.
*/
static int nl_routes(lua_State *L)
{
  wbl_Nl *n = checknl(L, 1);
  int fam = family_of[luaL_checkoption(L, 2, "all", families)];
  return dump(L, n, RTM_GETROUTE, fam, cb_route, 0, "RTM_GETROUTE");
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
    {"addr_add", nl_addr_add},   {"addr_del", nl_addr_del}, {"addrs", nl_addrs},
    {"close", nl_close},         {"link", nl_link},         {"link_add", nl_link_add},
    {"link_del", nl_link_del},   {"link_set", nl_link_set}, {"links", nl_links},
    {"route_add", nl_route_add}, {"route_del", nl_route_del}, {"routes", nl_routes},
    {NULL, NULL}};

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
