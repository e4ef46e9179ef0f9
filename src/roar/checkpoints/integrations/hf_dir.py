"""A Hugging Face Trainer output directory as roar reads it: its `checkpoint-N` folders,
the Trainer's own signs that a folder was written to the end, and the link file that
names the roar store holding the folders' commits. Needs no `transformers`.

The link (`roar-store.json` in the output directory) is written by `RoarTrainerCallback`:
the store URL (relative to the output directory when it lies inside it), and a run token
that every commit of this output directory carries, so a store shared by several runs
never vouches for another run's `checkpoint-N`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from roar.fsutil import atomic_write_bytes

__all__ = [
    "DEFAULT_STORE_DIR",
    "LINK_FILE",
    "RUN_KEY",
    "STEP_KEY",
    "StoreLink",
    "checkpoint_folders",
    "looks_complete",
    "read_link",
    "write_link",
]

LINK_FILE = "roar-store.json"
DEFAULT_STORE_DIR = "roar-checkpoints"  # not `checkpoint-*`: the Trainer's rotation skips it
STEP_KEY = "hf.step"
RUN_KEY = "hf.run"

# The Trainer's own pattern (`PREFIX_CHECKPOINT_DIR` + "-" + global step).
_CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
_TRAINER_STATE = "trainer_state.json"
_WEIGHTS = (
    "model.safetensors",
    "pytorch_model.bin",
    "adapter_model.safetensors",
    "adapter_model.bin",
)
_WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def checkpoint_folders(output_dir: Path) -> dict[int, Path]:
    """`checkpoint-N` directories by step N (none when `output_dir` does not exist)."""
    try:
        names = os.listdir(output_dir)
    except FileNotFoundError:
        return {}
    found: dict[int, Path] = {}
    for name in names:
        match = _CHECKPOINT_DIR.match(name)
        if match and (output_dir / name).is_dir():
            found[int(match.group(1))] = output_dir / name
    return found


def _safetensors_whole(path: Path) -> bool:
    """A safetensors file starts with its header's length: a cut-off file is shorter."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    return len(head) == 8 and size >= 8 + struct.unpack("<Q", head)[0]


def _weights_present(folder: Path) -> bool:
    for name in _WEIGHTS:
        path = folder / name
        if path.is_file() and path.stat().st_size > 0:
            return not name.endswith(".safetensors") or _safetensors_whole(path)
    for name in _WEIGHT_INDEXES:
        try:
            index = json.loads((folder / name).read_text())
            shards = set(index["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        return all((folder / shard).is_file() for shard in shards)
    return False


def looks_complete(folder: Path) -> bool:
    """The Trainer's signals that a checkpoint folder was written to the end: it writes
    `trainer_state.json` after the weights, optimizer and RNG state, so the state file must
    parse and name a step, and the model weights must be there and whole."""
    try:
        state = json.loads((folder / _TRAINER_STATE).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        return False
    return _weights_present(folder)


@dataclass(frozen=True)
class StoreLink:
    url: str  # as written: relative paths are relative to the output directory
    ref: str
    run: str

    def store_url(self, output_dir: Path) -> str:
        if "://" in self.url or os.path.isabs(self.url):
            return self.url
        return str(output_dir / self.url)


def read_link(output_dir: Path) -> StoreLink | None:
    try:
        raw = json.loads((output_dir / LINK_FILE).read_text())
        return StoreLink(str(raw["url"]), str(raw["ref"]), str(raw["run"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_link(output_dir: Path, url: str, ref: str) -> StoreLink:
    """Record (or keep) the link of `output_dir` to the store at `url`; the run token of an
    existing link survives, so a resumed run's commits still count for its folders."""
    existing = read_link(output_dir)
    if "://" not in url:
        absolute = Path(url).absolute()
        inside = absolute.is_relative_to(output_dir.absolute())
        url = str(absolute.relative_to(output_dir.absolute())) if inside else str(absolute)
    run = existing.run if existing else secrets.token_hex(8)
    link = StoreLink(url, ref, run)
    if link != existing:
        output_dir.mkdir(parents=True, exist_ok=True)
        body = {"url": link.url, "ref": link.ref, "run": link.run}
        atomic_write_bytes(output_dir / LINK_FILE, json.dumps(body, indent=1).encode() + b"\n")
    return link
