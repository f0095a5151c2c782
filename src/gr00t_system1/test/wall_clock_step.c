// LD_PRELOAD shim for test_node.py: the process's wall clock (CLOCK_REALTIME, and
// gettimeofday) plus an offset in nanoseconds read from the file $WALL_CLOCK_STEP_FILE
// (read again at most every 5 ms of monotonic time). Writing -3000000000 there steps the
// wall clock back 3 s, as NTP or chrony's makestep would; the monotonic clocks are untouched.
//   cc -shared -fPIC -o wall_clock_step.so wall_clock_step.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static long long offset_ns, last_read_ns = -1;

static void load_offset(void) {
  if (!real_clock_gettime) real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
  struct timespec m;
  real_clock_gettime(CLOCK_MONOTONIC, &m);
  long long now = m.tv_sec * 1000000000LL + m.tv_nsec;
  if (last_read_ns >= 0 && now - last_read_ns < 5000000LL) return;
  last_read_ns = now;
  const char *path = getenv("WALL_CLOCK_STEP_FILE");
  if (!path) return;
  FILE *f = fopen(path, "r");
  if (!f) return;
  long long v;
  if (fscanf(f, "%lld", &v) == 1) offset_ns = v;
  fclose(f);
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  load_offset();
  int r = real_clock_gettime(id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    long long t = ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_ns;
    ts->tv_sec = t / 1000000000LL;
    ts->tv_nsec = t % 1000000000LL;
  }
  return r;
}

int gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}
