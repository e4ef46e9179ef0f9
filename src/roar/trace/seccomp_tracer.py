"""The fast tracer: a seccomp user-notification filter, supervised by a thread of roar.

The command runs with a filter that stops only the path-naming syscalls (opens, execs,
renames, links, truncates). Each stop reaches roar's supervisor thread, which reads the
path from the stopped process's memory, notes it, and lets the call go on unchanged.
Unlike ptrace, forks, threads and every other syscall never leave the kernel, and with the
kernel's synchronous wake-up (6.6+) a stop costs a few tens of microseconds.

What it cannot know is whether a call succeeded: the decision is made before the call
runs. The classifier does not need to know: a path is an output only if it still exists and
its ctime moved during the run, an input only if it still exists. So failed probes vanish
there, and a failed rename leaves its target absent. Documented gaps: calls made through a
second ABI (32-bit programs on a 64-bit kernel) are not seen, and a job whose processes
already carry a seccomp listener (roar inside roar) is handed to strace.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal without its enums (1-2 ms)

# `_socket`, not `socket`: the wrapper builds enums of every socket constant at import, a
# few milliseconds of every `roar run`; passing one descriptor needs none of it.
import _socket
import contextlib
import errno
import importlib
import os
import struct
import threading
from collections.abc import Callable, Mapping, Sequence

from roar.errors import CommandNotFound, TracerUnavailable
from roar.trace.base import (
    ForwardSignals,
    Opened,
    StepControl,
    Tracer,
    TraceResult,
    exit_status,
    popen_options,
    wait_child,
)
from roar.trace.seccomp_decode import Decoder, Fresh
from roar.trace.seccomp_filter import (
    build_filter,
    native_arch,
    native_table,
)
from roar.trace.spawned import SpawnedChild

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    # The Python loop's kernel side (ctypes, libc's symbols): loaded only where that loop
    # or the listener it receives runs, not on every `roar run` that spawns through the C
    # extension (a few milliseconds).
    from typing import Any

    from roar.models import TraceCoverage
    from roar.trace.base import ChildProcess
    from roar.trace.seccomp_kernel import Listener

__all__ = ["SeccompTracer"]

_FD = struct.Struct("i")  # a descriptor in an SCM_RIGHTS message
#: How often the C loop's records are taken while the command runs (see _Stream).
_STREAM_S = 0.05
_TAIL_STREAM_S = 0.01
#: How long an ended run waits for processes the command left behind, after roar refused
#: to let it change files (RunningTrace.abort).
_ABORT_JOIN_S = 2.0

_native: Any
try:  # the optional C build (setup.py); without it the same loop runs in Python
    _native = importlib.import_module("roar.trace._supervisor")
except ImportError:  # pragma: no cover - exercised where no compiler was available
    _native = None


class SeccompTracer(Tracer):
    name = "seccomp"
    coverage = "full"

    def __init__(self, *, native_loop: bool | None = None) -> None:
        """`native_loop`: supervise with the C loop (default: when it was built, unless
        ROAR_SECCOMP_LOOP=python asks for the Python loop, to compare or to debug)."""
        if native_loop is None:
            native_loop = _native is not None and os.environ.get("ROAR_SECCOMP_LOOP") != "python"
        self.native_loop = native_loop
        if self.native_loop and _native is None:
            raise TracerUnavailable("roar's C supervisor was not built", tracer="seccomp")
        arch = native_arch()
        if arch is None:
            raise TracerUnavailable(f"no syscall table for {os.uname().machine}", tracer="seccomp")
        self.arch = arch
        # the C loop keeps each thread's cwd and must hear when it changes
        self.program, self.length = build_filter(arch, cwd_calls=self.native_loop)

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        control: StepControl | None = None,
        meanwhile: Callable[[], object] | None = None,
        opened: Opened | None = None,
    ) -> TraceResult:
        """As Tracer.run; with `opened`, the C loop reports tails too (see start())."""
        running = self.start(
            argv, cwd=cwd, env=env, control=control, opened=opened, tails=opened is not None
        )
        return running.finish(meanwhile)

    def start(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        control: StepControl | None = None,
        opened: Opened | None = None,
        gated: bool = False,
        tails: bool = False,
    ) -> RunningTrace:
        """Start `argv` under the filter and return at once; `finish()` waits for it.

        `gated` (the C loop only): every call that would change a file (an open for
        writing, creat, truncate, rename, link, symlink, unlink, rmdir, mkdir, mknod,
        chmod) waits until `open_gate()`, so roar can read the git state and open its store
        while the command starts up; `abort()` ends a command roar cannot record before it
        changed anything.

        `tails` (the C loop, with `opened` or `gated`): the filter also stops the calls
        that can write behind a file's end (seccomp_filter.TAIL_CALLS), `opened` hears
        which outputs were opened by emptying or creating opens, and the trace carries
        the facts a tail hasher's proof needs (TraceResult.rewrites; run/tail.py). Costs
        a stop per seek back, positional write or shared mapping of a file.
        """
        if gated and not self.native_loop:
            raise TracerUnavailable("a gated start needs roar's C supervisor", tracer="seccomp")
        tails = tails and self.native_loop and (gated or opened is not None)
        program, length = self.program, self.length
        if gated or tails:
            program, length = build_filter(
                self.arch, cwd_calls=True, change_calls=gated, tail_calls=tails
            )
        decoder = Decoder(self.arch, tails=tails)
        table = outbox = None
        if self.native_loop:
            changes = self.arch.change_numbers if gated else None
            table = native_table(
                decoder.by_number, self.arch.cwd_numbers.values(), changes, decoder.tail_calls
            )
            if gated or opened is not None:
                assert _native is not None
                outbox = _native.outbox(gated)
        supervisor = _Supervisor(decoder, table, outbox, opened)
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        machine = self.arch.machine
        from roar.trace.seccomp_kernel import install_listener  # before the fork: see below

        def install_in_child() -> None:
            # Runs in the forked child before exec: no imports, no locks, only syscalls.
            try:
                fd = install_listener(program, length, machine)
            except OSError as exc:
                theirs.send(b"E%d" % (exc.errno or 0))
                raise
            theirs.sendmsg([b"L"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _FD.pack(fd))])
            os.close(fd)

        import subprocess  # here: a command spawned early (adopt) needs none of it

        thread = threading.Thread(
            target=supervisor.serve, args=(ours,), name="roar-seccomp", daemon=True
        )
        thread.start()
        try:
            try:
                proc = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=dict(env),
                    preexec_fn=install_in_child,
                    **popen_options(control),
                )
            finally:
                theirs.close()  # the supervisor sees EOF if the child never sends
        except subprocess.SubprocessError as exc:
            thread.join()
            ours.close()
            raise self._not_installed(supervisor.install_errno) from exc
        except BaseException:
            thread.join()
            ours.close()
            raise
        return RunningTrace(self, proc, thread, supervisor, ours, control)

    def adopt(self, child: SpawnedChild, command: str) -> RunningTrace:
        """The RunningTrace of a command spawned before this tracer loaded (spawned.py:
        gated, its C loop answering already); `command`: its argv[0]."""
        decoder = Decoder(self.arch, tails=child.tails)
        supervisor = _Supervisor(decoder, child.table, child.outbox)
        thread = threading.Thread(
            target=supervisor.serve_spawned, args=(child,), name="roar-seccomp", daemon=True
        )
        thread.start()
        child.restore_signals()  # RunningTrace forwards them from now on
        return RunningTrace(self, child, thread, supervisor, None, None, command)

    @staticmethod
    def _not_installed(code: int | None) -> TracerUnavailable:
        """`under_listener` says the job already has a seccomp listener (a tracer that
        falls back must not rely on seccomp-bpf then: see StraceTracer)."""
        if code == errno.EBUSY:
            reason = "the job already runs under a seccomp listener (roar inside roar?)"
        elif code is not None:
            reason = f"the kernel refused the filter: {os.strerror(code)}"
        else:
            reason = "the filter could not be installed"
        return TracerUnavailable(reason, tracer="seccomp", under_listener=code == errno.EBUSY)


class RunningTrace:
    """A command started by `SeccompTracer.start`: `finish()` waits for it and returns
    the trace; `abort()` ends it instead (see `start` for the gate)."""

    def __init__(
        self,
        tracer: SeccompTracer,
        proc: ChildProcess,
        thread: threading.Thread,
        supervisor: _Supervisor,
        sock: _socket.socket | None,
        control: StepControl | None,
        command: str = "",
    ) -> None:
        """`sock`: the socket the listener came through (None for a spawned command);
        `command`: its argv[0], named if a spawned command could not be executed."""
        self.tracer, self.proc, self.control = tracer, proc, control
        self._thread, self._supervisor, self._sock = thread, supervisor, sock
        self._command = command
        self._ended = False  # finish() or abort() was called
        # Until finish() waits, signals sent to roar go to the command as they would then:
        # a Ctrl-C while roar gets ready must not end roar and leave the command running.
        self._signals: ForwardSignals | None = None
        if control is None:
            self._signals = ForwardSignals(lambda: proc.pid).__enter__()

    def attach(self, opened: Opened) -> None:
        """Tell `opened` (see Tracer.run) of the opens so far and all later ones."""
        self._supervisor.attach(opened)

    def open_gate(self) -> None:
        """Let the calls held by a gated start go on (nothing for an ungated one)."""
        if self._supervisor.outbox is not None:
            assert _native is not None
            _native.open_gate(self._supervisor.outbox)
        self._supervisor.late_attach = False  # nothing is attached once the command goes on

    def open_creates(self) -> None:
        """Let a gated start's calls that only make a new name go on (an open with O_CREAT,
        creat, link or symlink, on a name that does not exist): roar has read the git
        state. The rest waits for open_gate()."""
        if self._supervisor.outbox is not None:
            assert _native is not None
            _native.open_creates(self._supervisor.outbox)

    def abort(self) -> None:
        """End the command: it and every process it started are killed, parents first (so
        no shell of it reports a child's death as its own), and so is, from then on, any
        process of it that would change a file (a gated start's have changed none that
        existed yet); its
        trace is dropped. Nothing once finish() or abort() was called."""
        if self._ended:
            return
        self._ended = True
        for pid in _process_tree(self.proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, _signal.SIGKILL)
        if self._supervisor.outbox is not None:
            assert _native is not None
            _native.refuse(self._supervisor.outbox)  # one forked after the scan above
        self.proc.wait()
        self._restore_signals()
        # processes the command started may still be alive, unable to change files
        self._thread.join(_ABORT_JOIN_S)
        self._close()

    def finish(self, meanwhile: Callable[[], object] | None = None) -> TraceResult:
        """Wait for the command (opening the gate, if still closed) and read its trace;
        `meanwhile` as for Tracer.run."""
        self._ended = True
        self.open_gate()
        proc, supervisor = self.proc, self._supervisor
        try:
            returncode, stopped = wait_child(proc, lambda: proc.pid, self.control, meanwhile)
            self._thread.join()
            failure = proc.exec_error() if isinstance(proc, SpawnedChild) else None
        finally:
            self._restore_signals()
            self._close()
        if supervisor.receive_error is not None:
            raise supervisor.receive_error
        if failure is not None:  # a spawned command whose execve failed (its exit is 127)
            raise CommandNotFound(command=self._command, hint=f" ({os.strerror(failure)})")
        code, signum = exit_status(returncode)
        notes = []
        if not supervisor.synchronous:
            notes.append("no synchronous seccomp wake-up on this kernel (6.6+): tracing is slower")
        coverage: TraceCoverage = self.tracer.coverage
        if supervisor.undecoded:
            coverage = "reduced"
            notes.append(
                f"{supervisor.undecoded} syscalls could not be decoded ({supervisor.first_failure})"
            )
        log = supervisor.decoder.access_log()
        rewrites = supervisor.decoder.rewrite_facts()
        return TraceResult(code, signum, log, coverage, self.tracer.name, notes, stopped, rewrites)

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        if isinstance(self.proc, SpawnedChild):
            self.proc.close()

    def _restore_signals(self) -> None:
        if self._signals is not None:
            self._signals.__exit__(None, None, None)
            self._signals = None


class _Stream:
    """Takes the C loop's records while the run goes on, every `period` seconds: applies
    them to the decoder, so that little is left to decode once the command ends, and tells
    the supervisor's `opened` which paths were opened for reading only and which for
    writing; opens heard before `opened` is attached are kept for it while one may still
    come (`supervisor.late_attach`). close() hands back, in order, what it took but did not
    apply (the last batch). `failure` is the first error applying records; nothing later is
    applied then, as a failure at the end would leave the rest undecoded."""

    def __init__(self, supervisor: _Supervisor, outbox: object, period: float = _STREAM_S) -> None:
        assert _native is not None
        self.outbox = outbox
        self._supervisor, self._decoder, self._period = supervisor, supervisor.decoder, period
        self._unapplied: list[bytes] = []
        self._untold: tuple[list[bytes], list[bytes], list[Fresh]] = ([], [], [])
        self.failure: Exception | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="roar-seccomp-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        running = True
        while running:
            running = not self._done.wait(self._period)
            chunk = _native.take(self.outbox)
            if chunk and not running:  # work started now would only be cut short
                self._unapplied.append(chunk)  # left to close()
                continue
            reads: list[bytes] = []
            writes: list[bytes] = []
            fresh: list[Fresh] = []
            if chunk:
                if self.failure is None:
                    try:
                        self._decoder.apply_records(chunk)
                    except Exception as exc:  # noqa: BLE001 - a note on the job, as at the end
                        self.failure = exc
                reads, writes, fresh = self._decoder.opens(chunk)
            if running:
                self._tell(reads, writes, fresh)  # also what was kept for a late `opened`

    def _tell(self, reads: list[bytes], writes: list[bytes], fresh: list[Fresh]) -> None:
        # late_attach before opened: attach() sets opened before the gate ends late_attach
        late_attach = self._supervisor.late_attach
        opened = self._supervisor.opened
        untold = self._untold
        if opened is None:
            if late_attach:
                untold[0].extend(reads)
                untold[1].extend(writes)
                untold[2].extend(fresh)
            elif any(untold):
                self._untold = ([], [], [])  # no one will ask for them now
            return
        if any(untold):
            reads, writes, fresh = untold[0] + reads, untold[1] + writes, untold[2] + fresh
            self._untold = ([], [], [])
        if reads or writes:
            decode = os.fsdecode
            with contextlib.suppress(Exception):  # a hint; the run does not depend on it
                opened(
                    list(map(decode, reads)),
                    list(map(decode, writes)),
                    [(decode(path), before) for path, before in fresh],
                )

    def close(self) -> bytes:
        self._done.set()
        self._thread.join()
        return b"".join(self._unapplied)


def _process_tree(root: int) -> list[int]:
    """`root` and the processes under it, parents before their children (from /proc)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue  # ended meanwhile
            fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) "
            if len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, index = [root], 0
    while index < len(tree):
        tree.extend(children.get(tree[index], ()))
        index += 1
    return tree


def _receive_fd(sock: _socket.socket) -> tuple[bytes, list[int]]:
    """One message and the descriptors that came with it (at most one)."""
    message, ancillary, _flags, _addr = sock.recvmsg(64, _socket.CMSG_SPACE(_FD.size))
    fds = [
        _FD.unpack_from(data)[0]
        for level, kind, data in ancillary
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= _FD.size
    ]
    return message, fds


class _Supervisor:
    def __init__(
        self,
        decoder: Decoder,
        native: bytes | None = None,
        outbox: object = None,
        opened: Opened | None = None,
    ) -> None:
        self.decoder = decoder
        self.native = native  # the C loop's syscall table, or None for the Python loop
        self.outbox = outbox  # the C loop's, where records can be taken during the run
        self.opened = opened  # told of opens as they come (the C loop with an outbox)
        self.late_attach = opened is None and outbox is not None  # see attach()
        self.receive_error: OSError | None = None  # the listener never arrived
        self.install_errno: int | None = None
        self.synchronous = True
        self.undecoded = 0
        self.first_failure = ""

    def attach(self, opened: Opened) -> None:
        """Tell `opened` of the opens heard so far and all later ones (a gated start)."""
        self.opened = opened

    def serve(self, sock: _socket.socket) -> None:
        try:
            message, fds = _receive_fd(sock)
        except OSError as exc:
            self.receive_error = exc
            return
        if not fds:
            if message.startswith(b"E"):
                with contextlib.suppress(ValueError):
                    self.install_errno = int(message[1:])
            return
        from roar.trace.seccomp_kernel import Listener

        listener = Listener(fds[0])
        self.synchronous = listener.wake_synchronously()
        try:
            if self.native is not None:
                self._native_loop(listener, self.native)
            else:
                self._loop(listener)
        finally:
            listener.close()  # releases any process still waiting (after a failure)

    def _native_loop(self, listener: Listener, table: bytes) -> None:
        assert _native is not None
        self._stream_while(lambda: _native.serve(listener.fd, table, self.outbox))

    def serve_spawned(self, child: SpawnedChild) -> None:
        """As serve(), for a command spawned before the tracer loaded (spawned.py),
        whose C loop is running already."""
        self.synchronous = child.synchronous
        self._stream_while(child.served)

    def _stream_while(self, served: Callable[[], tuple[bytes, bool]]) -> None:
        """Stream the outbox while `served()` waits for the C loop's end, then apply, in
        order, what the stream took but did not apply and what the loop returned."""
        # with tails, an output should be tailed within milliseconds of its opening: the
        # further behind the writer a tail starts, the more is left for the end
        period = _TAIL_STREAM_S if self.decoder.tails else _STREAM_S
        stream = None if self.outbox is None else _Stream(self, self.outbox, period)
        try:
            records, complete = served()
        except OSError as exc:
            self._failed(exc)
            return
        finally:
            left = b"" if stream is None else stream.close()
        records = left + records
        if not complete:
            self._failed(MemoryError("out of memory: later calls were not recorded"))
        if stream is not None and stream.failure is not None:
            self._failed(stream.failure)
            return
        try:
            self.decoder.apply_records(records)
        except Exception as exc:  # noqa: BLE001 - a note on the job
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.undecoded += 1
        self.first_failure = self.first_failure or f"{type(exc).__name__}: {exc}"

    def _loop(self, listener: Listener) -> None:
        apply = self.decoder.apply
        note = listener.notification
        while listener.receive():
            try:
                apply(note)
            except Exception as exc:  # noqa: BLE001 - a note on the job; the command goes on
                self._failed(exc)
            finally:
                listener.resume()
