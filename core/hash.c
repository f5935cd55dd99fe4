/*
 * hash.c - SHA-256 (FIPS 180-4) of strings or of a file's content, for
 * content-addressed caches: a key computed in-process, in microseconds,
 * where running sha256sum would cost a fork and an exec.
 *
 *   hash.sha256(s [, ...])   of the strings one after another
 *   hash.file(path)          of the file's bytes, read in pieces
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "wbl.h"

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------- */

static const uint32_t K256[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void blocks_c(uint32_t s[8], const unsigned char *p, size_t n)
{
  for (; n--; p += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
             (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
      uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (int i = 0; i < 64; i++) {
      uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
      uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s[0] += a, s[1] += b, s[2] += c, s[3] += d, s[4] += e, s[5] += f, s[6] += g, s[7] += h;
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#ifndef bit_SHA
#define bit_SHA (1 << 29)
#endif

/* The same with the SHA extensions (Intel's SHA-NI), 4 rounds a step. */
__attribute__((target("sha,sse4.1"))) static void blocks_ni(uint32_t s[8],
                                                            const unsigned char *p, size_t n)
{
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[0]), 0xB1);
  __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&s[4]), 0x1B);
  __m128i s0 = _mm_alignr_epi8(t, s1, 8); /* ABEF */
  s1 = _mm_blend_epi16(s1, t, 0xF0);      /* CDGH */
  for (; n--; p += 64) {
    __m128i a0 = s0, a1 = s1, m[4];
    for (int i = 0; i < 4; i++)
      m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
    for (int r = 0; r < 16; r++) {
      __m128i msg = _mm_add_epi32(m[r & 3], _mm_loadu_si128((const __m128i *)&K256[4 * r]));
      s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
      if (r < 12) { /* the words of rounds 4r+16 .. 4r+19 */
        __m128i x = _mm_sha256msg1_epu32(m[r & 3], m[(r + 1) & 3]);
        x = _mm_add_epi32(x, _mm_alignr_epi8(m[(r + 3) & 3], m[(r + 2) & 3], 4));
        m[r & 3] = _mm_sha256msg2_epu32(x, m[(r + 3) & 3]);
      }
      s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
    }
    s0 = _mm_add_epi32(s0, a0);
    s1 = _mm_add_epi32(s1, a1);
  }
  t = _mm_shuffle_epi32(s0, 0x1B);
  s1 = _mm_shuffle_epi32(s1, 0xB1);
  _mm_storeu_si128((__m128i *)&s[0], _mm_blend_epi16(t, s1, 0xF0));
  _mm_storeu_si128((__m128i *)&s[4], _mm_alignr_epi8(s1, t, 8));
}

/* glibc has asked the CPU already (its cpu_features, at start): cpuid
 * again would cost a trap to the hypervisor in a VM (~45 us measured in
 * this nested one, at every start of wbl). */
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
static int have_sha_ni(void)
{
  return CPU_FEATURE_ACTIVE(SHA) && CPU_FEATURE_ACTIVE(SSSE3) && CPU_FEATURE_ACTIVE(SSE4_1);
}
#else
static int have_sha_ni(void)
{
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
    return 0;
  if (__get_cpuid_max(0, NULL) < 7)
    return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b & bit_SHA) != 0;
}
#endif
#endif

static void (*sha_blocks)(uint32_t *, const unsigned char *, size_t);


void wbl_sha_init(wbl_sha256 *c)
{
  static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
  if (!sha_blocks) {
    sha_blocks = blocks_c;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (have_sha_ni())
      sha_blocks = blocks_ni;
#endif
  }
  memcpy(c->s, iv, sizeof iv);
  c->len = 0;
  c->n = 0;
}

void wbl_sha_update(wbl_sha256 *c, const void *data, size_t len)
{
  const unsigned char *p = data;
  c->len += len;
  if (c->n) {
    size_t k = 64 - c->n < len ? 64 - c->n : len;
    memcpy(c->buf + c->n, p, k);
    c->n += k, p += k, len -= k;
    if (c->n < 64)
      return;
    sha_blocks(c->s, c->buf, 1);
    c->n = 0;
  }
  if (len >= 64) {
    sha_blocks(c->s, p, len / 64);
    p += len & ~(size_t)63;
    len &= 63;
  }
  memcpy(c->buf, p, len);
  c->n = len;
}

void wbl_sha_final(wbl_sha256 *c, unsigned char out[32])
{
  unsigned char pad[72] = { 0x80 };
  uint64_t bits = c->len * 8;
  size_t k = (c->n < 56 ? 56 : 120) - c->n;
  for (int i = 0; i < 8; i++)
    pad[k + i] = (unsigned char)(bits >> (56 - 8 * i));
  wbl_sha_update(c, pad, k + 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(c->s[i] >> 24);
    out[4 * i + 1] = (unsigned char)(c->s[i] >> 16);
    out[4 * i + 2] = (unsigned char)(c->s[i] >> 8);
    out[4 * i + 3] = (unsigned char)c->s[i];
  }
}

static void push_hex(lua_State *L, const unsigned char d[32])
{
  char hex[65];
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  lua_pushlstring(L, hex, 64);
}

/***
The SHA-256 of a string (of several: of them one after another, without
making their concatenation), as 64 lowercase hex digits (sha256sum's).
@string data
@string ... more
@treturn string digest
*/
static int hash_sha256(lua_State *L)
{
  int n = lua_gettop(L);
  wbl_sha256 c;
  unsigned char d[32];
  luaL_checkstring(L, 1);
  wbl_sha_init(&c);
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *p = luaL_checklstring(L, i, &len);
    wbl_sha_update(&c, p, len);
  }
  wbl_sha_final(&c, d);
  push_hex(L, d);
  return 1;
}

/***
The SHA-256 of a file's content (sha256sum's), read in pieces: no string
of it is made.
@string path
@treturn[1] string digest
@return[2] fail, "open PATH: message" (or "read ..."), errno
*/
static int hash_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return wbl_failf(L, "open %s", path);
  static char buf[16384];
  wbl_sha256 c;
  unsigned char d[32];
  wbl_sha_init(&c);
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int en = errno;
      close(fd);
      errno = en;
      return wbl_failf(L, "read %s", path);
    }
    if (r == 0)
      break;
    wbl_sha_update(&c, buf, (size_t)r);
  }
  close(fd);
  wbl_sha_final(&c, d);
  push_hex(L, d);
  return 1;
}

static const luaL_Reg hash_funcs[] = {{"sha256", hash_sha256}, {"file", hash_file}, {NULL, NULL}};

int wbl_open_hash(lua_State *L)
{
  luaL_newlib(L, hash_funcs);
  return 1;
}
