/*
 * util.h: the small I/O helpers the static native helpers share (kapsel-front, kapsel-vmm,
 * kapsel-guest-init). Header-only and `static inline`, so each binary stays one translation unit,
 * keeps only what it calls, and needs no library of ours at link time.
 *
 * read(2) and write(2) may return early: EINTR when a signal handler ran before any byte moved
 * (signal(7), "Interruption of system calls"), and a short count on pipes, sockets and ttys.
 * Every caller that needs "all of it" goes through these instead of its own loop.
 */
#ifndef KAPSEL_UTIL_H
#define KAPSEL_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* Writes all `len` bytes, retrying after EINTR and short writes; 0, or -1 with errno set. */
static inline int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* read(2), retried after EINTR: bytes read, 0 at end of file, or -1 with errno set. */
static inline ssize_t read_retry(int fd, void *buf, size_t len) {
  ssize_t n;
  do n = read(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

/* Reads exactly `len` bytes; 0, or -1 on an error or an early end of file (errno 0 then). */
static inline int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read_retry(fd, p, len);
    if (n <= 0) {
      if (n == 0) errno = 0;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Sleeps `ms` milliseconds, the whole time even when signal handlers interrupt it. */
static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Little-endian u32, as in the frames between kapsel-vmm and kapsel-guest-init. */
static inline uint32_t get_le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

/* One frame of the kapsel virtio-serial port (native/guest-init.c describes them): the type
 * byte, the payload length as u32 little-endian, the payload. 0, or -1 with errno set. */
static inline int write_frame(int fd, char type, const void *data, uint32_t len) {
  unsigned char hdr[5] = {(unsigned char)type};
  put_le32(hdr + 1, len);
  if (write_all(fd, hdr, sizeof hdr) < 0) return -1;
  return len > 0 ? write_all(fd, data, len) : 0;
}

#endif
