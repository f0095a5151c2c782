// LD_PRELOAD shim for test_node.py: the process's wall clock (CLOCK_REALTIME, and
// gettimeofday) plus an offset in nanoseconds read from the file $WALL_CLOCK_STEP_FILE
// (read again at most every 5 ms of monotonic time). Writing -3000000000 there steps the
// wall clock back 3 s, as NTP or chrony's makestep would; the monotonic clocks are untouched.
//
// A real step moves the kernel's clock too, so a wait until a wall-clock deadline the process
// read still lasts as long as it asked. The shim cannot move the kernel's clock, so it moves
// those deadlines back onto it instead (condition variables on CLOCK_REALTIME, semaphores,
// timed mutex locks, absolute CLOCK_REALTIME sleeps). Without that, after a step back every
// such wait ended at once: Fast DDS's shared-memory, event and watchdog threads and the ROS
// logger's flush thread spun for the rest of the run, taking both CPUs from the node's timer
// (a 0.52-s gap without commands in one of 10 runs), and the participant's deletion at exit
// once hung joining one of them.
//   cc -shared -fPIC -o wall_clock_step.so wall_clock_step.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
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

static struct timespec shifted(const struct timespec *ts, long long by_ns) {
  long long t = ts->tv_sec * 1000000000LL + ts->tv_nsec;
  if ((by_ns > 0 && t > LLONG_MAX - by_ns) || (by_ns < 0 && t < LLONG_MIN - by_ns))
    return *ts;  // a deadline at the end of time stays there
  t += by_ns;
  struct timespec out = {t / 1000000000LL, t % 1000000000LL};
  return out;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  load_offset();
  int r = real_clock_gettime(id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) *ts = shifted(ts, offset_ns);
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

// A deadline read from the shifted wall clock, back on the kernel's.
static const struct timespec *on_kernel_clock(const struct timespec *abstime,
                                              struct timespec *buf) {
  if (!abstime || offset_ns == 0) return abstime;
  *buf = shifted(abstime, -offset_ns);
  return buf;
}

// glibc keeps a condition variable's clock in bit 1 of __wrefs (1: CLOCK_MONOTONIC).
static int cond_on_realtime(pthread_cond_t *cond) {
  return (__atomic_load_n(&cond->__data.__wrefs, __ATOMIC_RELAXED) & 2) == 0;
}

int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                           const struct timespec *abstime) {
  static int (*real)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
  // x86_64 has an older version too (GLIBC_2.2.5, the old condvar); aarch64 has one only.
  if (!real) real = dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
  if (!real) real = dlsym(RTLD_NEXT, "pthread_cond_timedwait");
  struct timespec buf;
  return real(cond, mutex, cond_on_realtime(cond) ? on_kernel_clock(abstime, &buf) : abstime);
}

int pthread_cond_clockwait(pthread_cond_t *cond, pthread_mutex_t *mutex, clockid_t clockid,
                           const struct timespec *abstime) {
  static int (*real)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
  if (!real) real = dlsym(RTLD_NEXT, "pthread_cond_clockwait");
  struct timespec buf;
  return real(cond, mutex, clockid,
              clockid == CLOCK_REALTIME ? on_kernel_clock(abstime, &buf) : abstime);
}

int sem_timedwait(sem_t *sem, const struct timespec *abstime) {
  static int (*real)(sem_t *, const struct timespec *);
  if (!real) real = dlsym(RTLD_NEXT, "sem_timedwait");
  struct timespec buf;
  return real(sem, on_kernel_clock(abstime, &buf));
}

int sem_clockwait(sem_t *sem, clockid_t clockid, const struct timespec *abstime) {
  static int (*real)(sem_t *, clockid_t, const struct timespec *);
  if (!real) real = dlsym(RTLD_NEXT, "sem_clockwait");
  struct timespec buf;
  return real(sem, clockid, clockid == CLOCK_REALTIME ? on_kernel_clock(abstime, &buf) : abstime);
}

int pthread_mutex_timedlock(pthread_mutex_t *mutex, const struct timespec *abstime) {
  static int (*real)(pthread_mutex_t *, const struct timespec *);
  if (!real) real = dlsym(RTLD_NEXT, "pthread_mutex_timedlock");
  struct timespec buf;
  return real(mutex, on_kernel_clock(abstime, &buf));
}

int clock_nanosleep(clockid_t clockid, int flags, const struct timespec *request,
                    struct timespec *remain) {
  static int (*real)(clockid_t, int, const struct timespec *, struct timespec *);
  if (!real) real = dlsym(RTLD_NEXT, "clock_nanosleep");
  struct timespec buf;
  int moved = clockid == CLOCK_REALTIME && (flags & TIMER_ABSTIME);
  return real(clockid, flags, moved ? on_kernel_clock(request, &buf) : request, remain);
}
