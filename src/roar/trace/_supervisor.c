/* The seccomp tracer's supervisor loop in C, run without the GIL.
 *
 * Python's loop costs tens of microseconds per stopped syscall and competes for the GIL
 * with roar's other threads; this one costs a few. It does only what must happen while
 * the traced process is stopped: read the path argument(s) from its memory, resolve a
 * relative path against its cwd or directory descriptor, and let the call go on. Every
 * decision about what the call means stays in Python (seccomp_decode.Decoder), which
 * reads the records this loop returns after the run.
 *
 * serve(listener_fd, table, outbox=None) -> (records: bytes, complete: bool)
 *   table: 6 signed bytes per syscall number (path, dirfd, flags, old_path, old_dirfd,
 *          kind), -1 for "none"; a number whose path index is -1 is not decoded. Kind 6
 *          (chdir, fchdir) is only heard, for the cwd cache below; kind 7 (unlink, rmdir,
 *          chmod) and kind 9 (mkdir, mknod: they only make a new name, or fail) only for
 *          the gate; kind 8 (a call that may write behind a file's end:
 *          seccomp_filter.TAIL_CALLS) names the file it concerns by the descriptor in
 *          argument `dirfd` (-1: every file), see "Rewrites" below.
 * The cwd of a thread, which a relative path needs, is kept for 100 ms rather than read
 * from /proc at every open (see CwdCache).
 *   records: each `<i nr><I path_len><I old_len><I pad><Q flags><Q dev><Q ino><Q ctime>`
 *           then the path and the old path bytes (old: a rename's or a hard link's
 *           source, or for a rename that exchanges, the other name). For a rename, dev,
 *           ino and ctime are its source's as it was (identify_source); otherwise see
 *           "Rewrites" below; 0 where not asked for.
 *   complete: False when memory ran out and later records were dropped.
 *   outbox: from outbox(); the records then collect there, where take(outbox) hands out
 *           what has come so far while the run goes on (another thread, with the GIL),
 *           and serve returns only what was not taken.
 * outbox(gated=False): with gated, every call that would change a file (an open for
 *   writing, creat, truncate, rename, link, symlink, unlink, rmdir, mkdir, mknod, chmod;
 *   devices, /proc and /sys excepted) is held until open_gate(outbox), so roar can read
 *   the work tree's git state and open its store while the command starts. After
 *   open_creates(outbox) (the git state is read) the calls that only make a new name go
 *   on (mkdir and mknod always do: on a name that exists they fail): they change no file
 *   that existed before the run. After refuse(outbox) the process
 *   making one is killed instead (roar could not record the job and ends the command
 *   before it changed a file that existed).
 * Raises OSError when answering the kernel fails for another reason than a vanished
 * process; the caller closes the listener, which releases every waiting process.
 * Nothing here is static: two supervisors (parallel reproduction steps) run at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FIELDS 6
#define F_PATH 0
#define F_DIRFD 1
#define F_FLAGS 2
#define F_OLD_PATH 3
#define F_OLD_DIRFD 4
#define F_KIND 5
#define KIND_OPENAT2 2
#define KIND_RENAME 4
#define KIND_CWD 6
#define KIND_CHANGE 7
#define KIND_REWRITE 8
#define KIND_MAKE 9 /* mkdir, mknod: fail (EEXIST) rather than change a name that exists */
#define KIND_CREATE 5 /* creat, truncate, link, symlink */
#define OPEN_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
#define PAGE 4096
#define FIRST_READ 256
#define AT_FDCWD_VALUE (-100)

typedef struct {
    char *data;
    size_t size;
    size_t capacity;
    int failed; /* out of memory: the rest is lost, the run goes on */
} Buffer;

static void buffer_add(Buffer *buffer, const void *bytes, size_t count) {
    if (buffer->failed) return;
    if (buffer->size + count > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 1 << 16;
        while (capacity < buffer->size + count) capacity *= 2;
        char *grown = realloc(buffer->data, capacity);
        if (grown == NULL) {
            buffer->failed = 1;
            return;
        }
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, bytes, count);
    buffer->size += count;
}

/* Up to `size` bytes at `address` in `pid`, split at the page boundary so a string that
 * ends just before an unmapped page still comes back. */
static ssize_t read_remote(pid_t pid, uint64_t address, char *into, size_t size) {
    size_t first = PAGE - (address & (PAGE - 1));
    if (first > size) first = size;
    struct iovec local = {into, size};
    struct iovec remote[2] = {
        {(void *)(uintptr_t)address, first},
        {(void *)(uintptr_t)(address + first), size - first},
    };
    return process_vm_readv(pid, &local, 1, remote, size > first ? 2 : 1, 0);
}

/* The NUL-terminated string at `address` (at most PATH_MAX bytes) into `out`; its length,
 * or -1 when it cannot be read. */
static ssize_t read_string(pid_t pid, uint64_t address, char *out) {
    if (address == 0) return -1;
    size_t sizes[2] = {FIRST_READ, PATH_MAX};
    for (int attempt = 0; attempt < 2; attempt++) {
        ssize_t got = read_remote(pid, address, out, sizes[attempt]);
        if (got <= 0) return -1;
        char *end = memchr(out, '\0', (size_t)got);
        if (end != NULL) return end - out;
        if ((size_t)got < sizes[attempt]) return -1; /* runs into unreadable memory */
    }
    return -1; /* longer than PATH_MAX: the kernel refuses it too */
}

/* The cwd of each thread, as readlink(/proc/TID/cwd) gave it: that readlink is a path
 * walk in procfs, a fifth of what a relative open costs the traced command here. An entry
 * is used only while all of these hold, so it always says what readlink would:
 * - it is younger than CWD_FRESH_NS. Within that time no thread id can be reused (tens of
 *   thousands of processes would have to start), and a change no traced call makes (a
 *   rename by an outside process, a mount) shows within it;
 * - no cwd-changing call is in flight: chdir, fchdir and renames (of the cwd or a folder
 *   above it) empty the cache when they are heard, before they happen, and nothing is kept
 *   until the thread that made one makes its next heard call, by when it has happened. */
#define CWD_SLOTS 64
#define CWD_FRESH_NS 100000000LL
#define IN_FLIGHT_MAX 16

typedef struct {
    uint32_t tid; /* 0: empty */
    int64_t read_at;
    size_t length;
    char path[PATH_MAX];
} CwdSlot;

typedef struct {
    CwdSlot slots[CWD_SLOTS];
    uint32_t in_flight[IN_FLIGHT_MAX];
    int in_flight_count;
    int disabled; /* more changes at once than in_flight holds: no cache from then on */
} CwdCache;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Every heard call, before it is decoded: `tid` made it, of `kind`. */
static void cwd_heard(CwdCache *cache, uint32_t tid, int kind) {
    for (int i = 0; i < cache->in_flight_count; i++) {
        if (cache->in_flight[i] == tid) { /* its earlier change has happened by now */
            cache->in_flight[i] = cache->in_flight[--cache->in_flight_count];
            break;
        }
    }
    if (kind != KIND_CWD && kind != KIND_RENAME) return;
    for (int i = 0; i < CWD_SLOTS; i++) cache->slots[i].tid = 0;
    if (cache->in_flight_count == IN_FLIGHT_MAX)
        cache->disabled = 1;
    else
        cache->in_flight[cache->in_flight_count++] = tid;
}

static int cwd_usable(const CwdCache *cache) {
    return cache != NULL && !cache->disabled && cache->in_flight_count == 0;
}

/* The thread's cwd into `out` (room for `size`); its length, or -1 when not known. */
static ssize_t cwd_lookup(const CwdCache *cache, uint32_t tid, char *out, size_t size) {
    if (!cwd_usable(cache)) return -1;
    const CwdSlot *slot = &cache->slots[tid % CWD_SLOTS];
    if (slot->tid != tid || slot->length > size || now_ns() - slot->read_at >= CWD_FRESH_NS)
        return -1;
    memcpy(out, slot->path, slot->length);
    return (ssize_t)slot->length;
}

static void cwd_keep(CwdCache *cache, uint32_t tid, int64_t read_at, const char *path,
                     size_t length) {
    if (!cwd_usable(cache) || tid == 0 || length > PATH_MAX) return;
    CwdSlot *slot = &cache->slots[tid % CWD_SLOTS];
    slot->tid = tid;
    slot->read_at = read_at;
    slot->length = length;
    memcpy(slot->path, path, length);
}

/* The absolute form of the path argument `path_index`, relative to `dirfd_index` (or the
 * cwd); its length in `out`, or -1 when the process or its descriptor is gone. */
static ssize_t read_path(const struct seccomp_notif *note, int path_index, int dirfd_index,
                         char *out, size_t out_size, CwdCache *cwds) {
    char raw[PATH_MAX + 1];
    ssize_t length = read_string(note->pid, note->data.args[path_index], raw);
    if (length < 0) return -1;
    if (length > 0 && raw[0] == '/') {
        memcpy(out, raw, (size_t)length);
        return length;
    }
    int fd = dirfd_index < 0 ? AT_FDCWD_VALUE : (int32_t)note->data.args[dirfd_index];
    ssize_t base = -1;
    if (fd == AT_FDCWD_VALUE) base = cwd_lookup(cwds, note->pid, out, out_size - 1);
    if (base < 0) {
        char link[64];
        if (fd == AT_FDCWD_VALUE)
            snprintf(link, sizeof link, "/proc/%u/cwd", note->pid);
        else
            snprintf(link, sizeof link, "/proc/%u/fd/%d", note->pid, fd);
        int64_t read_at = now_ns(); /* before the read: the entry never outlives its age */
        base = readlink(link, out, out_size - 1);
        if (base < 0) return -1;
        if (fd == AT_FDCWD_VALUE) cwd_keep(cwds, note->pid, read_at, out, (size_t)base);
    }
    if (length == 0) return base;
    if ((size_t)base + 1 + (size_t)length > out_size) return -1;
    out[base] = '/';
    memcpy(out + base + 1, raw, (size_t)length);
    return base + 1 + length;
}

static int hung_up(int fd) {
    struct pollfd poller = {fd, POLLIN, 0};
    return poll(&poller, 1, 0) > 0 && (poller.revents & (POLLHUP | POLLERR));
}

typedef struct {
    int32_t nr;
    uint32_t path_length;
    uint32_t old_length;
    uint32_t pad;
    uint64_t flags;
    uint64_t dev;
    uint64_t ino;
    uint64_t ctime_ns; /* of the file at dev, ino (see identify) */
} Record;

/* Rewrites. A tail hasher (run/tail.py) hashes an output while it is written and needs
 * proof, at the end, that no byte it read was written again. When the table has kind-8
 * calls, this loop gives that proof its facts:
 * - every call that may change a file by name (an open for writing, creat, truncate,
 *   link) carries the device, inode and ctime of the file its path named before the call
 *   (0, 0: none yet, ANY_FILE: a path that cannot be looked up from here, such as another
 *   process's /proc/N/fd/M): a tail must not read a file an open is about to empty until
 *   that open has run, which a new ctime tells;
 * - every kind-8 call through a descriptor that may write to a regular file is a record
 *   with no path and that file's device and inode (read through /proc/PID/fd while the
 *   caller waits, so the descriptor is still the one it used), once per file; a kind-8
 *   call on no descriptor (asynchronous I/O) is one record for every file (ANY_FILE).
 * Nothing is looked up before the first call that may change a file: until then no file
 * the command writes can be open, and a reader's seeks cost only the stop. */
#define ANY_FILE UINT64_MAX
#define SEEN_SLOTS 256

typedef struct {
    int active; /* the table has kind-8 calls */
    int writing; /* a call that may change a file was heard */
    uint64_t seen[SEEN_SLOTS][2]; /* files already reported (dev, ino); ino 0: empty */
    int all_reported;
} Rewrites;

/* Whether (dev, ino) was reported already; remembers it if not (when there is room). */
static int reported_before(Rewrites *rewrites, uint64_t dev, uint64_t ino) {
    if (ino == ANY_FILE) {
        int before = rewrites->all_reported;
        rewrites->all_reported = 1;
        return before;
    }
    uint64_t slot = (ino * 0x9E3779B97F4A7C15ULL ^ dev) % SEEN_SLOTS;
    for (int probe = 0; probe < SEEN_SLOTS; probe++) {
        uint64_t *entry = rewrites->seen[(slot + probe) % SEEN_SLOTS];
        if (entry[1] == 0) {
            entry[0] = dev;
            entry[1] = ino;
            return 0;
        }
        if (entry[0] == dev && entry[1] == ino) return 1;
    }
    return 0; /* full: report again, which is only repetition */
}

/* The file `path` (absolute, as `pid` named it) names now: its device, inode and ctime
 * (ns); 0, 0 when there is none; ANY_FILE when this process cannot tell (`pid`'s own
 * /proc/self, /dev/fd and /dev/std*, which would name this process's files here). */
static void identify(const char *path, ssize_t length, uint64_t *dev, uint64_t *ino,
                     uint64_t *ctime_ns) {
    static const char *const own[] = {"/proc/self/", "/proc/thread-self/", "/dev/fd/",
                                      "/dev/stdin", "/dev/stdout", "/dev/stderr"};
    *dev = 0;
    *ino = 0;
    if (length < 0) {
        *dev = *ino = ANY_FILE;
        return;
    }
    char named[PATH_MAX + 1];
    if ((size_t)length > PATH_MAX) return;
    memcpy(named, path, (size_t)length);
    named[length] = '\0';
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        if (strncmp(named, own[i], strlen(own[i])) == 0) {
            *dev = *ino = ANY_FILE;
            return;
        }
    }
    struct stat st;
    if (stat(named, &st) == 0 && S_ISREG(st.st_mode)) {
        *dev = (uint64_t)st.st_dev;
        *ino = (uint64_t)st.st_ino;
        *ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec;
    }
}

/* The file a rename's source names now, as itself (a directory, a symlink), for roar to
 * tell at the end whether the rename happened: the target then has this inode. The loop
 * cannot see a call's result, and a rename that failed (onto a directory that is not
 * empty, or `mv`'s first try onto `dir/`) must not pass for one that moved content. The
 * ctime is the one the rename is about to move on: with it, the hash cache's entry for
 * the old name can vouch for the file under its new one. */
static void identify_source(const char *path, ssize_t length, uint64_t *dev, uint64_t *ino,
                            uint64_t *ctime_ns) {
    char named[PATH_MAX + 1];
    struct stat st;
    if (length <= 0 || (size_t)length > PATH_MAX) return;
    memcpy(named, path, (size_t)length);
    named[length] = '\0';
    if (lstat(named, &st) == 0) {
        *dev = (uint64_t)st.st_dev;
        *ino = (uint64_t)st.st_ino;
        *ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec;
    }
}

/* A kind-8 call: its record, when the file it concerns is one a tail may read. */
static void rewrite_heard(const struct seccomp_notif *note, const signed char *spec,
                          Buffer *out, Rewrites *rewrites) {
    if (!rewrites->active || !rewrites->writing) return;
    uint64_t dev = ANY_FILE, ino = ANY_FILE;
    if (spec[F_DIRFD] >= 0) {
        char link[64];
        snprintf(link, sizeof link, "/proc/%u/fd/%d", note->pid,
                 (int32_t)note->data.args[spec[F_DIRFD]]);
        struct stat st;
        /* The link's own mode tells how the descriptor was opened: S_IWUSR only when it
         * may write. A read-only one cannot change the file, whatever it seeks or maps
         * (a shared mapping of it can never be made writable): a job reading back its
         * own output, seeking as it goes, leaves the tail alone. */
        if (lstat(link, &st) != 0 || !(st.st_mode & S_IWUSR)) return;
        if (stat(link, &st) != 0 || !S_ISREG(st.st_mode)) return; /* no file, or a pipe */
        dev = (uint64_t)st.st_dev;
        ino = (uint64_t)st.st_ino;
    }
    if (reported_before(rewrites, dev, ino)) return;
    Record record = {note->data.nr, 0, 0, 0, 0, dev, ino, 0};
    buffer_add(out, &record, sizeof record);
}

#define PATH_ROOM (2 * PATH_MAX + 2) /* a directory's name, '/', and a relative path */

/* Paths whose writes change no file a job records or git sees: devices (not /dev/shm,
 * a tmpfs of ordinary files), /proc and /sys. */
static int outside_files(const char *path, ssize_t length) {
    if (length >= 5 && memcmp(path, "/dev/", 5) == 0)
        return !(length >= 9 && memcmp(path, "/dev/shm/", 9) == 0);
    return (length >= 6 && memcmp(path, "/proc/", 6) == 0) ||
           (length >= 5 && memcmp(path, "/sys/", 5) == 0);
}

/* Whether a decoded call of `kind` with `flags` on `path` would change a file. */
static int changes_files(int kind, uint64_t flags, const char *path, ssize_t length) {
    if (kind == KIND_CHANGE) return 1;
    if (kind == 1 || kind == KIND_OPENAT2) { /* open, openat, openat2 */
        if (!(flags & OPEN_WRITE_FLAGS)) return 0;
    } else if (kind != KIND_RENAME && kind != 5) { /* exec, cwd */
        return 0;
    }
    return length < 0 || !outside_files(path, length); /* unreadable: assume it does */
}

/* Whether a call of `kind` with `flags` that changes files only makes a new name: creat,
 * link, symlink or an open with O_CREAT, on a path that names nothing now (not even a
 * dangling symlink). Such a call cannot change a file that existed before the run. */
static int only_creates(int kind, uint64_t flags, const char *path, ssize_t length) {
    if (kind != KIND_CREATE && !((kind == 1 || kind == KIND_OPENAT2) && (flags & O_CREAT)))
        return 0;
    char named[PATH_MAX + 1];
    if (length <= 0 || (size_t)length > PATH_MAX) return 0;
    memcpy(named, path, (size_t)length);
    named[length] = '\0';
    struct stat st;
    return lstat(named, &st) != 0 && errno == ENOENT;
}

/* Decodes the call into `out`; whether it would change a file (see changes_files). With
 * `ask_creates`, `*creates` tells whether that change only makes a new name (see
 * only_creates). */
static int decode(const struct seccomp_notif *note, const signed char *spec, Buffer *out,
                  char *path, char *old, CwdCache *cwds, Rewrites *rewrites, int ask_creates,
                  int *creates) {
    uint64_t flags = 0;
    if (spec[F_KIND] == KIND_OPENAT2) {
        char how[8];
        if (read_remote(note->pid, note->data.args[spec[F_FLAGS]], how, 8) != 8) {
            if (rewrites->active) { /* it may write, who knows what: as below */
                rewrites->writing = 1;
                Record unknown = {note->data.nr, 0, 0, 0, OPEN_WRITE_FLAGS,
                                  ANY_FILE, ANY_FILE, 0};
                buffer_add(out, &unknown, sizeof unknown);
            }
            return changes_files(spec[F_KIND], OPEN_WRITE_FLAGS, path, -1);
        }
        memcpy(&flags, how, 8); /* struct open_how starts with its u64 flags */
    } else if (spec[F_FLAGS] >= 0) {
        flags = note->data.args[spec[F_FLAGS]];
    }
    ssize_t length = read_path(note, spec[F_PATH], spec[F_DIRFD], path, PATH_ROOM, cwds);
    int changes = changes_files(spec[F_KIND], flags, path, length);
    /* devices and /proc included: /dev/fd/N and /proc/N/fd/M may name any file */
    int writes = rewrites->active && (spec[F_KIND] == KIND_CREATE ||
                                      ((spec[F_KIND] == 1 || spec[F_KIND] == KIND_OPENAT2) &&
                                       (flags & OPEN_WRITE_FLAGS)));
    if (writes) {
        rewrites->writing = 1;
        if (length < 0) { /* a change to a file nobody can name: every tail is in doubt */
            Record unknown = {note->data.nr, 0, 0, 0, flags, ANY_FILE, ANY_FILE, 0};
            buffer_add(out, &unknown, sizeof unknown);
        }
    }
    if (length < 0) return changes;
    if (changes && ask_creates) *creates = only_creates(spec[F_KIND], flags, path, length);
    Record record = {note->data.nr, (uint32_t)length, 0, 0, flags, 0, 0, 0};
    if (writes) identify(path, length, &record.dev, &record.ino, &record.ctime_ns);
    ssize_t old_length = -1;
    if (spec[F_OLD_PATH] >= 0) { /* a rename's or a hard link's source */
        old_length = read_path(note, spec[F_OLD_PATH], spec[F_OLD_DIRFD], old, PATH_ROOM, cwds);
        if (old_length > 0) record.old_length = (uint32_t)old_length;
        if (spec[F_KIND] == KIND_RENAME) /* dev, ino, ctime: unused for renames otherwise */
            identify_source(old, old_length, &record.dev, &record.ino, &record.ctime_ns);
    }
    buffer_add(out, &record, sizeof record);
    buffer_add(out, path, (size_t)length);
    if (old_length > 0) buffer_add(out, old, (size_t)old_length);
    return changes;
}

#define GATE_OPEN 0
#define GATE_CLOSED 1
#define GATE_REFUSING 2
#define GATE_CREATES 3 /* only calls that make a new name go on (only_creates) */

/* Records shared between serve (no GIL) and take (with the GIL), and the gate, under
 * one lock. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t gate_moved;
    int gate;
    Buffer records;
} Outbox;

#define OUTBOX_NAME "roar.trace._supervisor.outbox"

static void outbox_free(PyObject *capsule) {
    Outbox *box = PyCapsule_GetPointer(capsule, OUTBOX_NAME);
    if (box == NULL) return;
    pthread_mutex_destroy(&box->lock);
    pthread_cond_destroy(&box->gate_moved);
    free(box->records.data);
    free(box);
}

static PyObject *outbox(PyObject *module, PyObject *args) {
    (void)module;
    int gated = 0;
    if (!PyArg_ParseTuple(args, "|p", &gated)) return NULL;
    Outbox *box = calloc(1, sizeof *box);
    if (box == NULL) return PyErr_NoMemory();
    pthread_mutex_init(&box->lock, NULL);
    pthread_cond_init(&box->gate_moved, NULL);
    box->gate = gated ? GATE_CLOSED : GATE_OPEN;
    PyObject *capsule = PyCapsule_New(box, OUTBOX_NAME, outbox_free);
    if (capsule == NULL) {
        pthread_mutex_destroy(&box->lock);
        pthread_cond_destroy(&box->gate_moved);
        free(box);
    }
    return capsule;
}

/* Moves a closed gate to `state`, and one open to creations to any state but that; an
 * open or refusing gate stays as it is. */
static PyObject *move_gate(PyObject *capsule, int state) {
    Outbox *box = PyCapsule_GetPointer(capsule, OUTBOX_NAME);
    if (box == NULL) return NULL;
    pthread_mutex_lock(&box->lock);
    if (box->gate == GATE_CLOSED || (box->gate == GATE_CREATES && state != GATE_CREATES))
        box->gate = state;
    pthread_cond_broadcast(&box->gate_moved);
    pthread_mutex_unlock(&box->lock);
    Py_RETURN_NONE;
}

static PyObject *open_gate(PyObject *module, PyObject *capsule) {
    (void)module;
    return move_gate(capsule, GATE_OPEN);
}

static PyObject *open_creates(PyObject *module, PyObject *capsule) {
    (void)module;
    return move_gate(capsule, GATE_CREATES);
}

static PyObject *refuse(PyObject *module, PyObject *capsule) {
    (void)module;
    return move_gate(capsule, GATE_REFUSING);
}

/* Whether calls that change files wait now (the gate is not open yet). */
static int gate_holds(Outbox *box) {
    pthread_mutex_lock(&box->lock);
    int holds = box->gate != GATE_OPEN;
    pthread_mutex_unlock(&box->lock);
    return holds;
}

/* Waits while the gate holds a call that changes a file (`creates`: one that only makes
 * a new name); whether the call may go on (else: refused). */
static int pass_gate(Outbox *box, int creates) {
    pthread_mutex_lock(&box->lock);
    while (box->gate == GATE_CLOSED || (box->gate == GATE_CREATES && !creates))
        pthread_cond_wait(&box->gate_moved, &box->lock);
    int open = box->gate != GATE_REFUSING;
    pthread_mutex_unlock(&box->lock);
    return open;
}

/* Everything in the outbox so far, as bytes; the outbox is left empty. */
static PyObject *drain(Outbox *box) {
    pthread_mutex_lock(&box->lock);
    PyObject *taken = PyBytes_FromStringAndSize(box->records.data ? box->records.data : "",
                                                (Py_ssize_t)box->records.size);
    if (taken != NULL) box->records.size = 0;
    pthread_mutex_unlock(&box->lock);
    return taken;
}

static PyObject *take(PyObject *module, PyObject *capsule) {
    (void)module;
    Outbox *box = PyCapsule_GetPointer(capsule, OUTBOX_NAME);
    return box == NULL ? NULL : drain(box);
}

static PyObject *serve(PyObject *module, PyObject *args) {
    int fd;
    Py_buffer table;
    PyObject *capsule = Py_None;
    (void)module;
    if (!PyArg_ParseTuple(args, "iy*|O", &fd, &table, &capsule)) return NULL;
    Outbox *box = NULL;
    if (capsule != Py_None) {
        box = PyCapsule_GetPointer(capsule, OUTBOX_NAME);
        if (box == NULL) {
            PyBuffer_Release(&table);
            return NULL;
        }
    }
    Py_ssize_t known = table.len / FIELDS;
    const signed char *specs = table.buf;
    Buffer own = {NULL, 0, 0, 0};
    Buffer *out = box != NULL ? &box->records : &own;
    int failure = 0;
    char *paths = malloc(2 * PATH_ROOM);
    CwdCache *cwds = calloc(1, sizeof *cwds); /* without it, every cwd is read afresh */
    Rewrites *rewrites = calloc(1, sizeof *rewrites);
    if (paths == NULL || rewrites == NULL) {
        free(paths);
        free(rewrites);
        free(cwds);
        PyBuffer_Release(&table);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t nr = 0; nr < known; nr++)
        if (specs[nr * FIELDS + F_KIND] == KIND_REWRITE) rewrites->active = 1;
    struct seccomp_notif note;
    struct seccomp_notif_resp response;

    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        memset(&note, 0, sizeof note);
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &note) != 0) {
            if (errno == EINTR) continue;
            if (errno == ENOENT && !hung_up(fd)) continue; /* that one died; others remain */
            break; /* no traced process is left */
        }
        int changes = 0, creates = 0;
        if (note.data.nr >= 0 && note.data.nr < known) {
            const signed char *spec = specs + (size_t)note.data.nr * FIELDS;
            if (cwds != NULL) cwd_heard(cwds, note.pid, spec[F_KIND]);
            if (spec[F_PATH] >= 0) {
                int ask_creates = box != NULL && gate_holds(box);
                if (box != NULL) pthread_mutex_lock(&box->lock);
                changes = decode(&note, spec, out, paths, paths + PATH_ROOM, cwds, rewrites,
                                 ask_creates, &creates);
                if (box != NULL) pthread_mutex_unlock(&box->lock);
            } else if (spec[F_KIND] == KIND_REWRITE) {
                if (box != NULL) pthread_mutex_lock(&box->lock);
                rewrite_heard(&note, spec, out, rewrites);
                if (box != NULL) pthread_mutex_unlock(&box->lock);
            } else {
                changes = spec[F_KIND] == KIND_CHANGE || spec[F_KIND] == KIND_MAKE;
                creates = spec[F_KIND] == KIND_MAKE;
            }
        }
        memset(&response, 0, sizeof response);
        response.id = note.id;
        if (changes && box != NULL && !pass_gate(box, creates)) {
            /* refused: roar ends the command; a process of it that would change a file
             * ends here, before the call fails and it reports that failure as its own */
            kill((pid_t)note.pid, SIGKILL);
            response.error = -EPERM;
        } else
            response.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &response) != 0 && errno != ENOENT) {
            failure = errno; /* a process we cannot release: stop rather than hang it */
            break;
        }
    }
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&table);
    free(paths);
    free(cwds);
    free(rewrites);
    if (failure != 0) {
        free(own.data);
        errno = failure;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (box != NULL) {
        PyObject *rest = drain(box);
        if (rest == NULL) return NULL;
        return Py_BuildValue("(NO)", rest, box->records.failed ? Py_False : Py_True);
    }
    PyObject *result = Py_BuildValue("(y#O)", own.data ? own.data : "", (Py_ssize_t)own.size,
                                     own.failed ? Py_False : Py_True);
    free(own.data);
    return result;
}

/* -- spawn: start a command under a seccomp listener without Python's subprocess ------
 *
 * spawn(path, argv, envp, cwd, program) -> (pid, listener_fd, status_fd, synchronous)
 *   path: the program to execute (resolved); argv, envp: lists of bytes; cwd: bytes or
 *   None; program: the filter (struct sock_filter[]). The child resets the signals Python
 *   ignores, moves to cwd, marks every inherited descriptor above 2 close-on-exec (as
 *   subprocess's close_fds), installs the filter, hands its listener over and executes
 *   path. Returns once the listener is here, which is before the command runs: its first
 *   heard call (the execve) waits for serve(). status_fd reads 8 bytes (stage, errno) if
 *   the execve failed later, else end-of-file once it succeeded or the child ended.
 *   Raises OSError when the child could not get as far as the listener.
 * Exists so `roar run` can start its command before importing subprocess, threading and
 * the rest of roar (run/launch.py): tens of milliseconds of every run.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/filter.h>

#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP /* 6.6's, missing from older headers */
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS _IOW('!', 4, uint64_t)
#endif
#define STAGE_CHDIR 1
#define STAGE_FILTER 2
#define STAGE_SEND 3
#define STAGE_EXEC 4

static void child_report(int fd, int stage, int error) {
    int message[2] = {stage, error};
    ssize_t ignored = write(fd, message, sizeof message);
    (void)ignored;
    _exit(127);
}

static int install_filter(const struct sock_fprog *prog) {
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                      prog);
    if (fd < 0 && errno == EACCES) { /* no CAP_SYS_ADMIN here: promise no_new_privs */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
        fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                     prog);
    }
    return (int)fd;
}

/* In the child: only async-signal-safe calls from here to execve. */
static void child_run(const char *path, char *const argv[], char *const envp[],
                      const char *cwd, const struct sock_fprog *prog, int sock, int status) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction reset;
    memset(&reset, 0, sizeof reset);
    reset.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &reset, NULL); /* Python ignores these; a command expects them */
    sigaction(SIGXFSZ, &reset, NULL);
    if (cwd != NULL && chdir(cwd) != 0) child_report(status, STAGE_CHDIR, errno);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
    {
        long top = sysconf(_SC_OPEN_MAX);
        if (top < 0 || top > 65536) top = 65536;
        for (int fd = 3; fd < top; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        child_report(status, STAGE_FILTER, errno);
    int listener = install_filter(prog);
    if (listener < 0) child_report(status, STAGE_FILTER, errno);
    char byte = 'L';
    struct iovec part = {&byte, 1};
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {0};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &listener, sizeof(int));
    if (sendmsg(sock, &message, 0) != 1) child_report(status, STAGE_SEND, errno);
    close(listener);
    execve(path, argv, envp);
    child_report(status, STAGE_EXEC, errno);
}

/* NULL-terminated char* array over a list of bytes (borrowed), or NULL with an error. */
static char **string_array(PyObject *list) {
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "expected a list of bytes");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(list);
    char **array = calloc((size_t)count + 1, sizeof *array);
    if (array == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyBytes_Check(item)) {
            free(array);
            PyErr_SetString(PyExc_TypeError, "expected a list of bytes");
            return NULL;
        }
        array[i] = PyBytes_AS_STRING(item);
    }
    return array;
}

static PyObject *spawn(PyObject *module, PyObject *args) {
    (void)module;
    const char *path, *cwd = NULL;
    PyObject *argv_list, *envp_list, *cwd_object;
    Py_buffer program;
    if (!PyArg_ParseTuple(args, "yO!O!Oy*", &path, &PyList_Type, &argv_list, &PyList_Type,
                          &envp_list, &cwd_object, &program))
        return NULL;
    if (cwd_object != Py_None) {
        if (!PyBytes_Check(cwd_object)) {
            PyBuffer_Release(&program);
            PyErr_SetString(PyExc_TypeError, "cwd must be bytes or None");
            return NULL;
        }
        cwd = PyBytes_AS_STRING(cwd_object);
    }
    char **argv = string_array(argv_list);
    char **envp = argv == NULL ? NULL : string_array(envp_list);
    int socks[2] = {-1, -1}, status[2] = {-1, -1};
    PyObject *result = NULL;
    if (envp == NULL) goto done;
    if (program.len % sizeof(struct sock_filter) != 0 || program.len == 0) {
        PyErr_SetString(PyExc_ValueError, "not a seccomp filter program");
        goto done;
    }
    struct sock_fprog prog = {(unsigned short)(program.len / sizeof(struct sock_filter)),
                              (struct sock_filter *)program.buf};
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) != 0 ||
        pipe2(status, O_CLOEXEC) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    pid_t pid = fork();
    if (pid == 0) child_run(path, argv, envp, cwd, &prog, socks[1], status[1]);
    if (pid < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    close(socks[1]);
    socks[1] = -1;
    close(status[1]);
    status[1] = -1;
    int listener = -1;
    ssize_t got;
    char byte;
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec part = {&byte, 1};
    struct msghdr message = {0};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    Py_BEGIN_ALLOW_THREADS
    do got = recvmsg(socks[0], &message, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    Py_END_ALLOW_THREADS
    if (got == 1) {
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        if (header != NULL && header->cmsg_level == SOL_SOCKET &&
            header->cmsg_type == SCM_RIGHTS)
            memcpy(&listener, CMSG_DATA(header), sizeof(int));
    }
    if (listener < 0) { /* the child failed before: why, from the status pipe */
        int report[2] = {0, 0};
        ssize_t read_count;
        Py_BEGIN_ALLOW_THREADS
        read_count = read(status[0], report, sizeof report);
        int ignored;
        while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {}
        Py_END_ALLOW_THREADS
        errno = read_count == (ssize_t)sizeof report && report[1] != 0 ? report[1] : EPROTO;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    /* the flags go by value, not through a pointer */
    int synchronous = ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                            (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
    result = Py_BuildValue("(iiiO)", (int)pid, listener, status[0],
                           synchronous ? Py_True : Py_False);
    if (result != NULL) status[0] = -1; /* handed over */
done:
    for (int i = 0; i < 2; i++) {
        if (socks[i] >= 0) close(socks[i]);
        if (status[i] >= 0) close(status[i]);
    }
    free(argv);
    free(envp);
    PyBuffer_Release(&program);
    return result;
}

static PyMethodDef methods[] = {
    {"spawn", spawn, METH_VARARGS, "Start a command under a seccomp filter; its listener."},
    {"serve", serve, METH_VARARGS, "Supervise a seccomp listener until no process is left."},
    {"outbox", outbox, METH_VARARGS, "A place where serve's records can be taken as they come."},
    {"take", take, METH_O, "The records in an outbox so far, removed from it."},
    {"open_gate", open_gate, METH_O, "Let the calls that change files go on."},
    {"refuse", refuse, METH_O, "Kill, from now on, each process that would change a file."},
    {"open_creates", open_creates, METH_O,
     "Let the calls that only make a new name go on; the others wait for open_gate."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_supervisor", "The seccomp supervisor loop, without the GIL.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__supervisor(void) { return PyModule_Create(&module); }
