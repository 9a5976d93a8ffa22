// An LD_PRELOAD interposer for the power-cut test: it lets the real kvstore binary run unmodified while recording,
// for every file it writes under CORAFT_SYNC_JOURNAL_ROOT, what a power cut could not take away. Each line of the
// journal (CORAFT_SYNC_JOURNAL) is one event, in the order the process made them:
//   open <path>            opened for writing (created if it was missing: then also "create <path>")
//   create <path>          a new name, durable only after the next "dirsync" of its directory
//   sync <path> <bytes>    fdatasync/fsync: the first <bytes> bytes of data written through it are durable
//   dirsync <dir>          the names created, renamed or removed in <dir> so far are durable
//   rename <from> <to>     another name change that needs a dirsync
// After SIGKILL of every replica, tests/net/power_cut_test.cpp reads the journal and rolls each file back to what a
// power cut may have left: synced bytes, plus a torn part of the rest; names that were never made durable, undone.
// The written extent of a file is the highest offset written through any descriptor of it (WAL writes only append).
// Writes of nothing but zeros do not count: the WAL writes zeros ahead of its data into space it preallocated (see
// DiskStorage::zero_ahead), which reads as zeros whether or not those writes survive, so they hold no data to lose;
// counting them would mark the data later written below them as synced.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FDS 4096

struct tracked {
  int used;
  int is_dir;
  char path[PATH_MAX];
  off_t extent;  // highest byte written + 1
};

typedef int (*open_fn)(const char*, int, ...);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef int (*fd_fn)(int);
typedef int (*rename_fn)(const char*, const char*);

// The next definition of `name` (glibc's), looked up once.
#define REAL(name, type) \
  static type real_##name; \
  if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

static struct tracked fds[MAX_FDS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char* root(void) {
  const char* r = getenv("CORAFT_SYNC_JOURNAL_ROOT");
  return r && *r ? r : NULL;
}

static int under_root(const char* path) {
  const char* r = root();
  return r && path && strncmp(path, r, strlen(r)) == 0;
}

// One line, appended with a single write (O_APPEND): threads and the journal's order agree.
static void journal(const char* fmt, ...) {
  const char* file = getenv("CORAFT_SYNC_JOURNAL");
  if (!file) return;
  char line[2 * PATH_MAX + 64];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  if (n <= 0 || (size_t)n >= sizeof line) return;
  REAL(open, open_fn);
  REAL(write, write_fn);
  REAL(close, fd_fn);
  int fd = real_open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)real_write(fd, line, (size_t)n);
  real_close(fd);
}

static void track(int fd, const char* path, int flags, int created) {
  if (fd < 0 || fd >= MAX_FDS || !under_root(path)) return;
  pthread_mutex_lock(&lock);
  fds[fd].used = 1;
  fds[fd].is_dir = (flags & O_DIRECTORY) != 0;
  fds[fd].extent = 0;
  snprintf(fds[fd].path, sizeof fds[fd].path, "%s", path);
  pthread_mutex_unlock(&lock);
  if (!fds[fd].is_dir && (flags & (O_WRONLY | O_RDWR))) {
    if (created) journal("create %s\n", path);
    journal("open %s\n", path);
  }
}

static int opened(int fd, const char* path, int flags, int existed) {
  if (fd >= 0) track(fd, path, flags, (flags & O_CREAT) && !existed);
  return fd;
}



int open(const char* path, int flags, ...) {
  REAL(open, open_fn);
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  const int existed = access(path, F_OK) == 0;
  return opened(real_open(path, flags, mode), path, flags, existed);
}

int open64(const char* path, int flags, ...) {
  REAL(open64, open_fn);
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  const int existed = access(path, F_OK) == 0;
  return opened(real_open64(path, flags, mode), path, flags, existed);
}

static int all_zeros(const void* buf, ssize_t n) {
  const unsigned char* bytes = (const unsigned char*)buf;
  for (ssize_t i = 0; i < n; ++i)
    if (bytes[i] != 0) return 0;
  return 1;
}

static void wrote(int fd, const void* buf, off_t offset, ssize_t n) {
  if (fd < 0 || fd >= MAX_FDS || n <= 0 || all_zeros(buf, n)) return;
  pthread_mutex_lock(&lock);
  if (fds[fd].used && offset + n > fds[fd].extent) fds[fd].extent = offset + n;
  pthread_mutex_unlock(&lock);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  REAL(pwrite, pwrite_fn);
  ssize_t n = real_pwrite(fd, buf, count, offset);
  wrote(fd, buf, offset, n);
  return n;
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  REAL(pwrite64, pwrite_fn);
  ssize_t n = real_pwrite64(fd, buf, count, offset);
  wrote(fd, buf, offset, n);
  return n;
}

ssize_t write(int fd, const void* buf, size_t count) {
  REAL(write, write_fn);
  off_t at = (fd >= 0 && fd < MAX_FDS && fds[fd].used) ? lseek(fd, 0, SEEK_CUR) : 0;
  ssize_t n = real_write(fd, buf, count);
  wrote(fd, buf, at, n);
  return n;
}

static void synced(int fd) {
  if (fd < 0 || fd >= MAX_FDS) return;
  pthread_mutex_lock(&lock);
  struct tracked t = fds[fd];
  pthread_mutex_unlock(&lock);
  if (!t.used) return;
  if (t.is_dir) journal("dirsync %s\n", t.path);
  else journal("sync %s %lld\n", t.path, (long long)t.extent);
}

int fdatasync(int fd) {
  REAL(fdatasync, fd_fn);
  int rc = real_fdatasync(fd);
  if (rc == 0) synced(fd);
  return rc;
}

int fsync(int fd) {
  REAL(fsync, fd_fn);
  int rc = real_fsync(fd);
  if (rc == 0) synced(fd);
  return rc;
}

int close(int fd) {
  REAL(close, fd_fn);
  if (fd >= 0 && fd < MAX_FDS) {
    pthread_mutex_lock(&lock);
    fds[fd].used = 0;
    pthread_mutex_unlock(&lock);
  }
  return real_close(fd);
}

int rename(const char* from, const char* to) {
  REAL(rename, rename_fn);
  int rc = real_rename(from, to);
  if (rc == 0 && under_root(to)) journal("rename %s %s\n", from, to);
  return rc;
}
