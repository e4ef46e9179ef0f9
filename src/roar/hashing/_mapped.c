/*
 * Read-only file mappings that survive the file shrinking under them.
 *
 * Hashing a mapped file skips the copy a read() makes: a third less work per byte on the
 * machines roar runs on. But a page of a mapping beyond the file's end (another process
 * truncated it while roar hashed it) raises SIGBUS, which kills the process. Here every
 * mapping is registered in a small table, and a SIGBUS handler that finds the faulting
 * address in the table puts zero pages over the rest of that mapping, marks it `faulted`
 * and returns: the reader goes on reading zeros, and the caller, seeing `faulted`, throws
 * the digest away. A SIGBUS anywhere else gets the handler that was there before ours.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Mappings alive at once: roar holds one per tail or hashing thread. */
#define SLOTS 128

typedef struct {
    _Atomic uintptr_t start; /* 0: free */
    _Atomic uintptr_t end;
    _Atomic int faulted;
} Slot;

static Slot slots[SLOTS];
static struct sigaction previous_action;
static _Atomic int have_previous;
static uintptr_t page_mask;

static void on_sigbus(int signum, siginfo_t *info, void *context)
{
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t start = atomic_load(&slots[i].start);
        uintptr_t end = atomic_load(&slots[i].end);
        if (start == 0 || address < start || address >= end)
            continue;
        uintptr_t page = address & page_mask;
        /* mmap is a plain system call on Linux: safe in a signal handler there. */
        void *zeros = mmap((void *)page, end - page, PROT_READ,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (zeros != MAP_FAILED) {
            atomic_store(&slots[i].faulted, 1);
            return;
        }
        break;
    }
    /* Not ours (or no way out): the handler before ours gets it when the access repeats,
     * or, for a SIGBUS that was sent rather than raised by an access, at once. */
    if (atomic_load(&have_previous))
        sigaction(SIGBUS, &previous_action, NULL);
    else
        signal(SIGBUS, SIG_DFL);
    if (info->si_code <= 0) /* SI_USER, SI_QUEUE, SI_TKILL: kill(), sigqueue(), tgkill() */
        raise(SIGBUS);
    (void)signum;
    (void)context;
}

/* Put our handler in place unless it is there already (something may have replaced it
 * since: faulthandler.enable(), for one). */
static int ensure_handler(void)
{
    struct sigaction current;
    if (sigaction(SIGBUS, NULL, &current) != 0)
        return -1;
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_sigbus)
        return 0;
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_sigbus;
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    if (sigaction(SIGBUS, &ours, &previous_action) != 0)
        return -1;
    atomic_store(&have_previous, 1);
    return 0;
}

typedef struct {
    PyObject_HEAD
    char *base;
    Py_ssize_t length;
    int slot; /* -1: closed */
    Py_ssize_t exports;
} Mapping;

static PyObject *Mapping_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fd", "offset", "length", NULL};
    int fd;
    long long offset;
    Py_ssize_t length;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iLn", keywords, &fd, &offset, &length))
        return NULL;
    if (offset < 0 || length <= 0 || ((uintptr_t)offset & ~page_mask) != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "offset must be a non-negative multiple of the page size, length > 0");
        return NULL;
    }
    if (ensure_handler() != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    int slot = -1;
    for (int i = 0; i < SLOTS && slot < 0; i++) {
        uintptr_t expected = 0;
        /* claim a free slot with a placeholder address no fault can match */
        if (atomic_compare_exchange_strong(&slots[i].start, &expected, (uintptr_t)1))
            slot = i;
    }
    if (slot < 0) {
        errno = EBUSY;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    void *base;
    Py_BEGIN_ALLOW_THREADS
    base = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED, fd, (off_t)offset);
    Py_END_ALLOW_THREADS
    if (base == MAP_FAILED) {
        int saved = errno;
        atomic_store(&slots[slot].start, 0);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Mapping *self = (Mapping *)type->tp_alloc(type, 0);
    if (self == NULL) {
        munmap(base, (size_t)length);
        atomic_store(&slots[slot].start, 0);
        return NULL;
    }
    self->base = base;
    self->length = length;
    self->slot = slot;
    self->exports = 0;
    atomic_store(&slots[slot].faulted, 0);
    atomic_store(&slots[slot].end, (uintptr_t)base + (uintptr_t)length);
    atomic_store(&slots[slot].start, (uintptr_t)base);
    return (PyObject *)self;
}

static void release(Mapping *self)
{
    if (self->slot < 0)
        return;
    Slot *slot = &slots[self->slot];
    atomic_store(&slot->end, 0);
    atomic_store(&slot->start, (uintptr_t)1); /* still ours until it is unmapped */
    munmap(self->base, (size_t)self->length);
    atomic_store(&slot->start, 0);
    self->slot = -1;
    self->base = NULL;
}

static PyObject *Mapping_close(Mapping *self, PyObject *unused)
{
    (void)unused;
    if (self->exports > 0) {
        PyErr_SetString(PyExc_BufferError, "the mapping is still being read");
        return NULL;
    }
    release(self);
    Py_RETURN_NONE;
}

static PyObject *Mapping_enter(Mapping *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *Mapping_exit(Mapping *self, PyObject *args)
{
    (void)args;
    return Mapping_close(self, NULL);
}

static PyObject *Mapping_faulted(Mapping *self, void *closure)
{
    (void)closure;
    if (self->slot < 0) {
        PyErr_SetString(PyExc_ValueError, "the mapping is closed");
        return NULL;
    }
    return PyBool_FromLong(atomic_load(&slots[self->slot].faulted));
}

static void Mapping_dealloc(Mapping *self)
{
    release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Mapping_getbuffer(Mapping *self, Py_buffer *view, int flags)
{
    if (self->slot < 0) {
        PyErr_SetString(PyExc_ValueError, "the mapping is closed");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->base, self->length, 1, flags) != 0)
        return -1;
    self->exports++;
    return 0;
}

static void Mapping_releasebuffer(Mapping *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
}

static PyBufferProcs Mapping_as_buffer = {
    (getbufferproc)Mapping_getbuffer,
    (releasebufferproc)Mapping_releasebuffer,
};

static PyMethodDef Mapping_methods[] = {
    {"close", (PyCFunction)Mapping_close, METH_NOARGS, "Unmap (refused while a view is held)."},
    {"__enter__", (PyCFunction)Mapping_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Mapping_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Mapping_getset[] = {
    {"faulted", (getter)Mapping_faulted, NULL,
     "True once a read fell beyond the file's end: the bytes from there on read as zeros.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MappingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "roar.hashing._mapped.Mapping",
    .tp_basicsize = sizeof(Mapping),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Mapping(fd, offset, length): a read-only shared mapping of a file's bytes.",
    .tp_new = Mapping_new,
    .tp_dealloc = (destructor)Mapping_dealloc,
    .tp_as_buffer = &Mapping_as_buffer,
    .tp_methods = Mapping_methods,
    .tp_getset = Mapping_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "roar.hashing._mapped",
    "File mappings whose reads beyond a shrunk file's end give zeros instead of SIGBUS.",
    -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__mapped(void)
{
    page_mask = ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    if (PyType_Ready(&MappingType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&MappingType);
    if (PyModule_AddObject(m, "Mapping", (PyObject *)&MappingType) < 0) {
        Py_DECREF(&MappingType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
