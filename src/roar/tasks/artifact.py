"""What a task hands back: `Artifact` points at a stored value, `File` at a file on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roar.errors import ArtifactMissing, DeserializationFailed
from roar.models import VALUE_PATH_PREFIX
from roar.project import Project
from roar.tasks.serializers import serializer_named

__all__ = ["Artifact", "File"]


@dataclass(frozen=True)
class Artifact:
    """A value a task returned, stored by content in `.roar/objects`.

    Pass it to another task (that records the edge and gives the function the value), or
    call `load()` for the value itself, in this process or any later one.
    """

    hash: str
    size: int
    serializer: str
    ext: str
    type: str  # module.qualname of the stored value
    path: str  # where its producing job recorded it, e.g. task:split_data/out/0
    run_id: int  # the job that produced it (@N)
    step: str
    root: Path  # the project it is stored in

    @property
    def object_path(self) -> Path:
        digest = self.hash
        return Project(self.root).objects_dir / digest[:2] / digest[2:]

    def load(self) -> Any:
        """The stored value, read back with the serializer that wrote it."""
        serializer = serializer_named(self.serializer, self.type, self.hash)
        try:
            handle = open(self.object_path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            fix = (
                f"reproduce it: call {self.step} again with the arguments "
                f"`roar.inp({self.run_id})` returns"
            )
            if self.path.startswith(f"{VALUE_PATH_PREFIX}{self.step}/in/"):
                # passed to the run by value: only its caller ever had it
                fix = f"it was an argument of @{self.run_id}: pass the value again"
            raise ArtifactMissing(
                hash=self.hash,
                path=self.path,
                run_id=self.run_id,
                step=self.step,
                objects=Project(self.root).objects_dir,
                fix=fix,
            ) from None
        with handle:
            found = os.fstat(handle.fileno()).st_size
            if found != self.size:
                raise DeserializationFailed(
                    f"{self.object_path} holds {found} bytes, {self.size} were stored; it "
                    "was damaged: delete it and call the task again",
                    hash=self.hash,
                    serializer=self.serializer,
                )
            try:
                return serializer.load(handle)
            except ImportError as exc:
                raise DeserializationFailed(
                    f"{exc}; install the library that wrote it ({self.type})",
                    hash=self.hash,
                    serializer=self.serializer,
                ) from exc
            except Exception as exc:
                raise DeserializationFailed(
                    f"{type(exc).__name__}: {exc}", hash=self.hash, serializer=self.serializer
                ) from exc

    def __repr__(self) -> str:
        return (
            f"Artifact({self.hash[:12]}, {self.type}, {self.path!r}, run_id={self.run_id}, "
            f"{self.size} bytes)"
        )


class File(os.PathLike[str]):
    """A file on disk that a task reads (pass it as an argument) or writes (return it).

    Either way roar hashes it and records it as the job's input or output; the function
    gets the File itself, which works wherever a path does (`open(f)`, `pd.read_csv(f)`).
    """

    __slots__ = ("hash", "path", "size")

    def __init__(
        self, path: str | os.PathLike[str], *, hash: str | None = None, size: int | None = None
    ) -> None:
        self.path = Path(os.path.abspath(os.fspath(path)))
        self.hash = hash
        self.size = size

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        digest = f", hash={self.hash[:12]}" if self.hash else ""
        return f"File({os.fspath(self.path)!r}{digest})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, File):
            return NotImplemented
        return (self.path, self.hash) == (other.path, other.hash)

    def __hash__(self) -> int:
        return hash((self.path, self.hash))
