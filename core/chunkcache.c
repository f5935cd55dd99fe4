/*
 * chunkcache.c - the wbl program's Lua file loaders, with compiled chunks
 * cached per file and used only for the exact bytes they were compiled from.
 *
 * Every start of wbl compiled the library and the workflow scripts (all of
 * lua/wbl and the start's scripts, ~350 KB: 6.0 ms here); through this
 * cache they load in 1.15 ms (reading, comparing, checking and undumping;
 * 1.35 ms with format 1, which hashed every source).  Users edit those
 * files and run them again without building anything, so an entry is used
 * only for what is loaded now, never by a date (an edit that keeps the
 * size and the mtime still takes effect):
 *
 *   file  CACHE/<key>.luac, key: hex of the SHA-256 of a tag (this format),
 *         the Lua library's lua_ident (which names its release) and the
 *         chunk name ("@path": the bytecode carries it, for messages and
 *         tracebacks).  No content: one entry per path, and a new version
 *         replaces the old one by the rename that writes it
 *   data  "wblchnk3"; a 64-bit checksum of the two lengths and the
 *         bytecode (a torn or damaged file is seen, and compiled again: Lua
 *         does not check bytecode beyond its header, and bad bytecode can
 *         crash it); the source's length and the bytecode's (64-bit, native
 *         order); string.dump's output without the names of locals (line
 *         numbers, the source's name and upvalue names stay: see
 *         strip_locals); the source, all the file's bytes as read (a UTF-8
 *         BOM and a #! line included)
 *
 * A load reads the file, then the entry; it checks the magic, the lengths
 * (against each other, the entry's size and the file's) and the checksum,
 * and compares the stored source with the file's bytes in full: only then
 * is the bytecode loaded.  The source is read anyway (to compile it on a
 * miss), and comparing costs a memcmp, where hashing it to find the entry
 * (format 1: the key was the SHA-256 of the tag, the name and the content)
 * cost ~0.5 ms per MB with the SHA extensions, ~3 ms without: ~0.23 ms of
 * a ~9 ms container start.  The guarantee is stronger too: an entry is used
 * only for exactly the bytes it was compiled from, and as the name holds no
 * content and the content is compared in full, no chosen content (some
 * files wbl loads as root come from users: hooks) can land on another
 * file's entry.  The checksum leaves the source out: the comparison covers
 * it, and a damaged source part is a miss like any other difference.  The
 * price: an entry holds the source as well, about twice the bytes on disk
 * and to read (copies from the page cache: tens of microseconds for all
 * of lua/wbl).  The file's and the entry's bytes are read into malloc'd
 * buffers, freed before returning, not Lua userdata: counted by the
 * collector, buffers of that size brought its steps forward and cost as
 * much as the hashing saved.
 *
 * A miss (or any failure) compiles the source as luaL_loadfilex does, with
 * the same chunk name and so the same messages, and writes the entry
 * atomically (a temporary file, 0600, renamed over the path's entry); a
 * failed write leaves no cache.  What is not a plain text file (stdin, a
 * pipe, a directory, a precompiled chunk, a file that cannot be opened or
 * read) goes to luaL_loadfilex itself: the same results and messages as
 * before.
 *
 * Entries of format 1 (CACHE/<16 hex>-<64 hex>.luac, at most one per path)
 * and format 2 (another tag in the key: other names) are neither read nor
 * removed: finding them would take a readdir per
 * write, and removing them would make an older wbl sharing the directory
 * compile every file on each run.  Deleting the cache is always safe.
 *
 * Bytecode is code: the cache is used only while its directory is owned by
 * the effective uid and writable by no one else, and an entry only if that
 * uid owns it and no one else may write it.  (Who may write an entry may
 * run anything as us: the source comparison is against mistakes and stale
 * entries, not against that writer.)  The directory is opened once and
 * kept (close-on-exec, not below 3): it stays the same directory whatever
 * the process does to its mounts or root later, and is checked (device,
 * inode, owner, mode) before each use.
 *
 * The directory: WBL_CACHE (empty: no cache); for root /var/cache/wbl/luac
 * (a cache in the FHS sense, apart from the store, WBL_STORE, whose place
 * varies by run and which holds data that must stay); for others
 * $XDG_CACHE_HOME/wbl/luac or ~/.cache/wbl/luac.  Made 0700 when missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "chunkcache.h"
#include "wbl.h"

#define TAG "wbl chunk cache 3"
#define MAGIC "wblchnk3"
#define HDR 32                          /* MAGIC, checksum, source and bytecode lengths */
#define SUMMED 16                       /* the checksum covers from here to the source */
#define MAX_FILE (64 * 1024 * 1024)     /* larger sources (or bytecode) are not cached */

/* SHA-256: core/hash.c (wbl_sha_init/update/final). */

static void hex(char *out, const unsigned char *p, size_t n)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
}

/* ---- the entries' checksum: damage, not attacks (the owner check is for
 * those); 64-bit multiply-rotate lanes, XXH64's round and finish -------- */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static uint64_t rotl64(uint64_t x, int r) { return x << r | x >> (64 - r); }
static uint64_t rd64(const unsigned char *p)
{
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static uint64_t round64(uint64_t acc, uint64_t in) { return rotl64(acc + in * P2, 31) * P1; }

static uint64_t checksum(const unsigned char *p, size_t n)
{
  uint64_t a = P1 + P2, b = P2, c = 0, d = 0 - P1, h;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = round64(a, rd64(p + i));
    b = round64(b, rd64(p + i + 8));
    c = round64(c, rd64(p + i + 16));
    d = round64(d, rd64(p + i + 24));
  }
  h = rotl64(a, 1) + rotl64(b, 7) + rotl64(c, 12) + rotl64(d, 18) + (uint64_t)n;
  for (; i + 8 <= n; i += 8)
    h = rotl64(h ^ round64(0, rd64(p + i)), 27) * P1 + P4;
  for (; i < n; i++)
    h = rotl64(h ^ (p[i] * P5), 11) * P1;
  h ^= h >> 33, h *= P2, h ^= h >> 29, h *= P3, h ^= h >> 32;
  return h;
}

/* ---- the directory ------------------------------------------------------ */

static int cache_fd = -2; /* -2: not opened yet; -1: no cache */
static int cache_readonly; /* an entry could not be made: make no more */
static dev_t cache_dev;
static ino_t cache_ino;

/* Of the right type, owned by the effective uid, writable by no other. */
static int trusted(const struct stat *st, mode_t type)
{
  return (st->st_mode & S_IFMT) == type && st->st_uid == geteuid() &&
         !(st->st_mode & (S_IWGRP | S_IWOTH));
}

static int cache_path(char *out, size_t n)
{
  const char *e = getenv("WBL_CACHE");
  int len;
  if (e)
    len = *e ? snprintf(out, n, "%s", e) : -1;
  else if (geteuid() == 0)
    len = snprintf(out, n, "/var/cache/wbl/luac");
  else if ((e = getenv("XDG_CACHE_HOME")) && e[0] == '/')
    len = snprintf(out, n, "%s/wbl/luac", e);
  else {
    struct passwd *pw;
    if (!((e = getenv("HOME")) && e[0] == '/'))
      e = (pw = getpwuid(geteuid())) && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
    len = e ? snprintf(out, n, "%s/.cache/wbl/luac", e) : -1;
  }
  return len > 0 && (size_t)len < n ? 0 : -1;
}

static void mkdir_p(char *path)
{
  for (char *s = path + 1; *s; s++)
    if (*s == '/') {
      *s = 0;
      mkdir(path, 0700);
      *s = '/';
    }
  mkdir(path, 0700);
}

static int cache_open(void)
{
  char path[PATH_MAX];
  struct stat st;
  if (cache_path(path, sizeof path) != 0)
    return -1;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    mkdir_p(path);
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd >= 0 && fd < 3) { /* stdin, stdout or stderr was closed */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = high;
  }
  if (fd < 0)
    return -1;
  if (fstat(fd, &st) != 0 || !trusted(&st, S_IFDIR)) {
    close(fd);
    return -1;
  }
  cache_dev = st.st_dev;
  cache_ino = st.st_ino;
  return fd;
}

/* The cache directory's fd, or -1.  An fd closed or replaced behind our
 * back (close_range, dup2) is dropped, never closed: it is not ours. */
static int cache_dir(void)
{
  struct stat st;
  if (cache_fd == -2)
    cache_fd = cache_open();
  if (cache_fd >= 0 && (fstat(cache_fd, &st) != 0 || st.st_dev != cache_dev ||
                        st.st_ino != cache_ino || !trusted(&st, S_IFDIR)))
    cache_fd = -1;
  return cache_fd;
}

/* ---- entries ------------------------------------------------------------ */

static ssize_t read_full(int fd, char *p, size_t n)
{
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static int write_full(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    p += r, n -= (size_t)r;
  }
  return 0;
}

typedef struct {
  const char *p;
  size_t n;
} Chunk;

static const char *chunk_reader(lua_State *L, void *ud, size_t *size)
{
  Chunk *c = ud;
  (void)L;
  *size = c->n;
  c->n = 0;
  return *size ? c->p : NULL;
}

/* Push the function of entry name, compiled from the n bytes src, and
 * return 1; or push nothing and return 0. */
static int cache_get(lua_State *L, int dfd, const char *name, const char *chunkname,
                     const char *src, size_t n)
{
  struct stat st;
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return 0;
  if (fstat(fd, &st) != 0 || !trusted(&st, S_IFREG) || st.st_size <= (off_t)(HDR + n) ||
      st.st_size - (off_t)(HDR + n) > MAX_FILE) {
    close(fd);
    return 0;
  }
  /* malloc, not a userdata: the buffer lives only until lua_load (which
   * raises nothing) returns, and kept out of the collector's count it does
   * not bring a collection step forward. */
  size_t size = (size_t)st.st_size, bclen = size - HDR - n;
  unsigned char *buf = malloc(size);
  ssize_t got = buf ? read_full(fd, (char *)buf, size) : -1;
  close(fd);
  uint64_t sum = 0, srclen = 0, codelen = 0;
  if (got == (ssize_t)size) {
    memcpy(&sum, buf + 8, 8);
    memcpy(&srclen, buf + 16, 8);
    memcpy(&codelen, buf + 24, 8);
  }
  if (got != (ssize_t)size || memcmp(buf, MAGIC, 8) != 0 || srclen != n || codelen != bclen ||
      sum != checksum(buf + SUMMED, HDR - SUMMED + bclen) ||
      memcmp(buf + HDR + bclen, src, n) != 0) {
    free(buf);
    return 0;
  }
  Chunk c = { (const char *)buf + HDR, bclen };
  int status = lua_load(L, chunk_reader, &c, chunkname, "b");
  free(buf);
  if (status != LUA_OK) { /* another Lua */
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

typedef struct {
  char *p;
  size_t n, cap;
} Dump;

static int dump_writer(lua_State *L, const void *p, size_t size, void *ud)
{
  Dump *d = ud;
  (void)L;
  if (d->n + size > d->cap) {
    size_t cap = d->cap;
    while (cap < d->n + size)
      cap *= 2;
    char *q = realloc(d->p, cap);
    if (!q)
      return 1;
    d->p = q;
    d->cap = cap;
  }
  memcpy(d->p + d->n, p, size);
  d->n += size;
  return 0;
}

/* ---- the names of locals, left out -------------------------------------- */

/* string.dump's output (Lua 5.4's format, ldump.c) rewritten in place
 * without the names of local variables: each function's locvars count
 * becomes 0 and its entries go.  Everything else stays as it was: the
 * source name, line numbers (an error says file:line), upvalue names
 * ("global 'x'" in messages).  Undumping interns every name it reads, and
 * the names of locals are most of them: ~2% of a container's start.  What
 * is lost: "(local 'x')" in an error message and "in local 'f'" in a
 * traceback (WBL_CACHE= gives them back).  Returns the new length, or 0
 * for anything not exactly that format (then the dump stays whole). */
typedef struct {
  unsigned char *p;
  size_t n, r, w; /* length; read and write positions (w <= r) */
  int bad;
} Rewrite;

static void rw_copy(Rewrite *s, size_t len)
{
  if (s->bad || len > s->n - s->r) {
    s->bad = 1;
    return;
  }
  memmove(s->p + s->w, s->p + s->r, len);
  s->r += len, s->w += len;
}

/* A size (ldump.c's dumpSize: 7 bits a byte, most significant first, the
 * last byte marked by 0x80), copied unless skip. */
static size_t rw_size(Rewrite *s, int skip)
{
  size_t x = 0, start = s->r;
  int b;
  do {
    if (s->bad || s->r >= s->n || x >> 50) {
      s->bad = 1;
      return 0;
    }
    b = s->p[s->r++];
    x = (x << 7) | (size_t)(b & 0x7f);
  } while (!(b & 0x80));
  if (!skip) {
    size_t len = s->r - start;
    s->r = start;
    rw_copy(s, len);
  }
  return x;
}

static void rw_string(Rewrite *s, int skip)
{
  size_t size = rw_size(s, skip); /* 0: none; else the length + 1 */
  if (size == 0 || s->bad)
    return;
  if (size - 1 > s->n - s->r) {
    s->bad = 1;
  } else if (skip) {
    s->r += size - 1;
  } else {
    rw_copy(s, size - 1);
  }
}

static void rw_function(Rewrite *s, int depth)
{
  size_t i, k;
  if (depth > 250) {
    s->bad = 1;
    return;
  }
  rw_string(s, 0);                /* source */
  rw_size(s, 0);                  /* linedefined */
  rw_size(s, 0);                  /* lastlinedefined */
  rw_copy(s, 3);                  /* numparams, is_vararg, maxstacksize */
  k = rw_size(s, 0);              /* code */
  if (k > s->n / 4)
    s->bad = 1;
  else
    rw_copy(s, k * 4);
  k = rw_size(s, 0);              /* constants */
  for (i = 0; i < k && !s->bad; i++) {
    if (s->r >= s->n) {
      s->bad = 1;
      break;
    }
    int tag = s->p[s->r];
    rw_copy(s, 1);
    switch (tag) {
    case 0x00: case 0x01: case 0x11: /* nil, false, true */
      break;
    case 0x03: case 0x13: /* integer, float: 8 bytes (the header says so) */
      rw_copy(s, 8);
      break;
    case 0x04: case 0x14: /* short, long string */
      rw_string(s, 0);
      break;
    default:
      s->bad = 1;
    }
  }
  k = rw_size(s, 0);              /* upvalues: instack, idx, kind */
  if (k > s->n / 3)
    s->bad = 1;
  else
    rw_copy(s, k * 3);
  k = rw_size(s, 0);              /* nested functions */
  for (i = 0; i < k && !s->bad; i++)
    rw_function(s, depth + 1);
  k = rw_size(s, 0);              /* debug: line info, a byte per instruction */
  rw_copy(s, k);
  k = rw_size(s, 0);              /* absolute line info: pc, line */
  for (i = 0; i < k && !s->bad; i++) {
    rw_size(s, 0);
    rw_size(s, 0);
  }
  k = rw_size(s, 1);              /* locals: name, startpc, endpc: left out */
  for (i = 0; i < k && !s->bad; i++) {
    rw_string(s, 1);
    rw_size(s, 1);
    rw_size(s, 1);
  }
  if (!s->bad)
    s->p[s->w++] = 0x80;          /* none */
  k = rw_size(s, 0);              /* upvalue names */
  for (i = 0; i < k && !s->bad; i++)
    rw_string(s, 0);
}

static size_t strip_locals(unsigned char *p, size_t n)
{
  /* The header as this Lua writes it: signature, version 5.4, format 0,
   * LUAC_DATA, sizes of Instruction, lua_Integer and lua_Number, then
   * LUAC_INT and LUAC_NUM (8 bytes each); then the main function's
   * number of upvalues. */
  static const unsigned char head[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08";
  if (n < 32 || memcmp(p, head, sizeof head - 1) != 0)
    return 0;
  Rewrite s = { p, n, 32, 32, 0 };
  rw_function(&s, 0);
  return s.bad || s.r != n ? 0 : s.w;
}

/* Write the function on top of the stack, compiled from the n bytes src,
 * as entry name (replacing the path's previous one); failures ignored.
 * The function on the stack becomes the entry's (without the names of
 * locals), so a miss behaves as the hits after it. */
static void cache_put(lua_State *L, int dfd, const char *name, const char *src, size_t n)
{
  static unsigned serial;
  if (cache_readonly)
    return;
  size_t cap = HDR + 2 * n + 4096;
  Dump d = { malloc(cap), HDR, cap };
  if (!d.p)
    return;
  if (lua_dump(L, dump_writer, &d, 0) != 0 || d.n - HDR > MAX_FILE) {
    free(d.p);
    return;
  }
  size_t stripped = strip_locals((unsigned char *)d.p + HDR, d.n - HDR);
  if (stripped) {
    lua_Debug ar;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &ar);
    Chunk c = { d.p + HDR, stripped };
    /* the same chunk name: the source (the entry's first string) */
    if (lua_load(L, chunk_reader, &c, ar.source, "b") != LUA_OK) {
      lua_pop(L, 1);
      free(d.p);
      return;
    }
    lua_replace(L, -2);
    d.n = HDR + stripped;
  }
  uint64_t srclen = n, codelen = d.n - HDR;
  memcpy(d.p, MAGIC, 8);
  memcpy(d.p + 16, &srclen, 8);
  memcpy(d.p + 24, &codelen, 8);
  uint64_t sum = checksum((unsigned char *)d.p + SUMMED, d.n - SUMMED);
  memcpy(d.p + 8, &sum, 8);
  if (dump_writer(L, src, n, &d) != 0) {
    free(d.p);
    return;
  }
  char tmp[128];
  snprintf(tmp, sizeof tmp, ".%.16s.%ld.%u.tmp", name, (long)getpid(), serial++);
  int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    int bad = write_full(fd, d.p, d.n);
    if (close(fd) != 0 || bad || renameat(dfd, tmp, dfd, name) != 0)
      unlinkat(dfd, tmp, 0);
  } else if (errno != EEXIST) {
    cache_readonly = 1;
  }
  free(d.p);
}

/* ---- the loaders -------------------------------------------------------- */

/* wbl_loadfilex, with filename already open as fd (or -1), which it closes. */
static int loadfd(lua_State *L, int fd, const char *filename, const char *mode)
{
  int top = lua_gettop(L);
  struct stat st;
  int dfd;
  if (!filename || (mode && !strchr(mode, 't')) || (dfd = cache_dir()) < 0) {
    if (fd >= 0)
      close(fd);
    return luaL_loadfilex(L, filename, mode);
  }
  if (fd < 0 && (fd = open(filename, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
    return luaL_loadfilex(L, filename, mode);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
    close(fd);
    return luaL_loadfilex(L, filename, mode);
  }
  /* The chunk name first: from here to free(src) nothing may raise an
   * error (luaL_loadbufferx and lua_load catch theirs, lua_dump allocates
   * nothing), so the source can be malloc'd, out of the collector's count
   * like the entry's buffer. */
  const char *chunkname = lua_pushfstring(L, "@%s", filename);
  char *src = malloc((size_t)st.st_size + 1);
  ssize_t got = src ? read_full(fd, src, (size_t)st.st_size) : -1;
  close(fd);
  if (got < 0) {
    free(src);
    lua_settop(L, top);
    return luaL_loadfilex(L, filename, mode);
  }
  /* What luaL_loadfilex compiles: no UTF-8 BOM; a first line starting
   * with # (#!) left out but its newline, so line numbers stay. */
  size_t n = (size_t)got, at = 0;
  if (n >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
    at = 3;
  const char *text = src + at;
  size_t len = n - at;
  if (len && *text == '#') {
    const char *nl = memchr(text, '\n', len);
    text = nl ? nl : "\n";
    len = nl ? len - (size_t)(nl - (src + at)) : 1;
  }
  if (len && *text == LUA_SIGNATURE[0]) { /* a precompiled chunk: not ours */
    free(src);
    lua_settop(L, top);
    return luaL_loadfilex(L, filename, mode);
  }

  /* The entry's name: the path's, whatever its content. */
  wbl_sha256 c;
  unsigned char digest[32];
  char name[64 + 5 + 1];
  wbl_sha_init(&c);
  wbl_sha_update(&c, TAG, sizeof TAG);
  wbl_sha_update(&c, lua_ident, strlen(lua_ident) + 1);
  wbl_sha_update(&c, chunkname, strlen(chunkname) + 1);
  wbl_sha_final(&c, digest);
  hex(name, digest, 32);
  memcpy(name + 64, ".luac", 6);

  int status = LUA_OK;
  if (!cache_get(L, dfd, name, chunkname, src, n)) {
    status = luaL_loadbufferx(L, text, len, chunkname, "t");
    if (status == LUA_OK)
      cache_put(L, dfd, name, src, n);
  }
  free(src);
  lua_replace(L, top + 1); /* the result where the chunk name was */
  lua_settop(L, top + 1);
  return status;
}

int wbl_loadfilex(lua_State *L, const char *filename, const char *mode)
{
  return loadfd(L, -1, filename, mode);
}

static int l_loadfile(lua_State *L)
{
  const char *fname = luaL_optstring(L, 1, NULL);
  const char *mode = luaL_optstring(L, 2, NULL);
  int env = !lua_isnone(L, 3) ? 3 : 0;
  if (wbl_loadfilex(L, fname, mode) == LUA_OK) {
    if (env) { /* the environment: the first upvalue */
      lua_pushvalue(L, env);
      if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    }
    return 1;
  }
  luaL_pushfail(L);
  lua_insert(L, -2);
  return 2;
}

static int dofile_cont(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  (void)ctx;
  return lua_gettop(L) - 1;
}

static int l_dofile(lua_State *L)
{
  const char *fname = luaL_optstring(L, 1, NULL);
  lua_settop(L, 1);
  if (wbl_loadfilex(L, fname, NULL) != LUA_OK)
    return lua_error(L);
  lua_callk(L, 0, LUA_MULTRET, 0, dofile_cont);
  return dofile_cont(L, 0, 0);
}

/* package.searchers[2]: upvalue package.  package.searchpath's search
 * (each template of package.path with '?' replaced by the name, its dots
 * by '/': the first file that opens), but the file found stays open for
 * the loader, not opened, closed and opened again; the same messages. */
static int l_searcher(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  lua_getfield(L, lua_upvalueindex(1), "path");
  const char *path = lua_tostring(L, -1);
  if (!path)
    return luaL_error(L, "'package.path' must be a string");
  const char *file = strchr(name, '.') ? luaL_gsub(L, name, ".", LUA_DIRSEP) : name;
  const char *list = luaL_gsub(L, path, LUA_PATH_MARK, file); /* the names, ';' between */
  int fd = -1;
  const char *p = list;
  while (*p) {
    const char *end = strchr(p, *LUA_PATH_SEP);
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > 0) {
      lua_pushlstring(L, p, n);
      fd = open(lua_tostring(L, -1), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd >= 0)
        break;
      lua_pop(L, 1);
    }
    p += n + (end != NULL);
  }
  if (fd < 0) { /* the files tried, as searchpath says it */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "no file '");
    luaL_addgsub(&b, list, LUA_PATH_SEP, "'\n\tno file '");
    luaL_addstring(&b, "'");
    luaL_pushresult(&b);
    return 1;
  }
  const char *filename = lua_tostring(L, -1);
  if (loadfd(L, fd, filename, NULL) != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, filename,
                      lua_tostring(L, -1));
  lua_pushvalue(L, -2);
  return 2; /* the chunk, and its file for its second argument */
}

void wbl_chunkcache_install(lua_State *L)
{
  lua_pushcfunction(L, l_loadfile);
  lua_setglobal(L, "loadfile");
  lua_pushcfunction(L, l_dofile);
  lua_setglobal(L, "dofile");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, l_searcher, 1);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}
