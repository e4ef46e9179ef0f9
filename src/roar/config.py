"""Layered settings: defaults < user file < project file < ROAR_* environment < flags.

Every key is declared once in `SETTINGS` with its type, default and description; nothing
else in roar invents keys. Files are TOML with one table per section (`[output]`,
`quiet = true`). Writes validate first and then replace the file atomically, so a rejected
`roar config set` leaves the file byte-for-byte as it was.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from roar.config_files import holds_only_comments, user_config_file
from roar.errors import ConfigError, CorruptConfigFile, InvalidConfigValue, UnknownConfigKey
from roar.fsutil import atomic_write_bytes
from roar.named_tuple import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Literal

    # for type checkers only (typing is not imported at run time)
    Source = Literal["default", "user", "project", "env", "flag"]

__all__ = [
    "SETTINGS",
    "Config",
    "ConfigValue",
    "Setting",
    "env_var_name",
    "format_value",
    "load_config",
    "project_config_path",
    "set_value",
    "setting_for",
    "unset_value",
    "user_config_path",
]

Value = bool | int | str | None


class Setting(NamedTuple):
    key: str
    type_name: Literal["bool", "int", "str", "url"]
    default: Value
    description: str

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


def _declare(*settings: Setting) -> dict[str, Setting]:
    return {s.key: s for s in settings}


SETTINGS: Mapping[str, Setting] = _declare(
    Setting("output.quiet", "bool", False, "Silence the report printed after a run."),
    Setting(
        "output.track_repo_files",
        "bool",
        False,
        "Record reads of files tracked by git (source code) as job inputs.",
    ),
    Setting(
        "filters.ignore_system_reads",
        "bool",
        True,
        "Drop reads under /usr, /lib, /etc and similar system paths.",
    ),
    Setting(
        "filters.ignore_package_reads",
        "bool",
        True,
        "Drop reads inside site-packages (recorded as package versions instead).",
    ),
    Setting(
        "filters.ignore_torch_cache",
        "bool",
        True,
        "Drop reads and writes under the torch/triton kernel caches.",
    ),
    Setting(
        "filters.ignore_tmp_files",
        "bool",
        True,
        "Drop files under /tmp and $TMPDIR (never those inside the project).",
    ),
    Setting(
        "hash.early",
        "bool",
        True,
        "Hash big files (4 MiB and up) while the command still runs, on a low-priority "
        "thread: inputs at once, outputs once they rest, and outputs written from scratch "
        "as they are written, used only when the trace proves no byte was written again "
        "(seccomp tracer; this costs a stop per seek, positional write or shared mapping "
        "through a descriptor that can write); off: everything is hashed after the run.",
    ),
    Setting(
        "reproduce.collect_sources",
        "bool",
        False,
        "Copy each run's source inputs (project files no recorded job wrote) into "
        ".roar/objects, so `roar reproduce` has them after the originals change.",
    ),
    Setting(
        "reproduce.collect_max_mb",
        "int",
        1024,
        "At most this many MiB of new source inputs copied per run; files past it are "
        "skipped with a warning.",
    ),
    Setting(
        "store.url",
        "url",
        None,
        "Database URL; unset means sqlite at .roar/roar.db (postgresql+psycopg://... works).",
    ),
    Setting("glaas.url", "url", None, "URL of a GLaaS lineage server to publish to."),
    Setting(
        "tasks.staleness_days",
        "int",
        30,
        "A task that reads an artifact made more than this many days ago warns (0: never).",
    ),
    Setting(
        "notify.enabled",
        "bool",
        False,
        "Post a message to notify.url when a task finishes or fails.",
    ),
    Setting(
        "notify.url",
        "url",
        None,
        "Slack-compatible incoming-webhook URL that task notifications are posted to.",
    ),
    Setting(
        "checkpoints.url",
        "str",
        None,
        "Default checkpoint store for `roar ckpt`: a local path or s3://bucket/prefix.",
    ),
    Setting(
        "checkpoints.s3_endpoint_url",
        "url",
        None,
        "S3 endpoint for checkpoint stores (unset: AWS_ENDPOINT_URL, else AWS itself).",
    ),
    Setting(
        "checkpoints.s3_region",
        "str",
        None,
        "S3 region for checkpoint stores (unset: AWS_REGION / AWS_DEFAULT_REGION).",
    ),
    Setting(
        "checkpoints.timeout",
        "int",
        30,
        "Seconds one checkpoint storage request may take before it counts as failed.",
    ),
    Setting(
        "checkpoints.max_retries",
        "int",
        3,
        "Retries (with exponential backoff) of a checkpoint storage request that failed "
        "transiently (connection error, timeout, 5xx, throttling).",
    ),
    Setting(
        "checkpoints.cache_dir",
        "str",
        None,
        "Where S3 checkpoints are staged and downloaded (unset: ~/.cache/roar/checkpoints).",
    ),
    Setting(
        "registry.stages",
        "str",
        None,
        "Comma-separated stages `roar registry assign` allows (overrides .gto; unset: any).",
    ),
    Setting(
        "registry.types",
        "str",
        None,
        "Comma-separated artifact types `roar registry annotate` allows (overrides .gto).",
    ),
)


def env_var_name(key: str) -> str:
    """`output.quiet` -> `ROAR_OUTPUT_QUIET`."""
    return "ROAR_" + key.upper().replace(".", "_")


def _suggest(key: str) -> str | None:
    import difflib  # only on the error path

    names = list(SETTINGS)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if not close:  # also match on the last part alone: "quiet" -> "output.quiet"
        by_name = {s.name: s.key for s in SETTINGS.values()}
        leaf = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(by_name), n=1)
        close = [by_name[leaf[0]]] if leaf else []
    return close[0] if close else None


def setting_for(key: str) -> Setting:
    try:
        return SETTINGS[key]
    except KeyError:
        raise UnknownConfigKey(key, _suggest(key)) from None


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_bool(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidConfigValue(key=key, expected="a boolean (true or false)", value=raw)


def _parse_int(key: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidConfigValue(key=key, expected="an integer", value=raw) from None


def _parse_url(key: str, raw: str) -> str:
    text = raw.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme or not rest or " " in scheme:
        raise InvalidConfigValue(key=key, expected="a URL like scheme://host/path", value=raw)
    return text


_PARSERS: Mapping[str, Callable[[str, str], Value]] = {
    "bool": _parse_bool,
    "int": _parse_int,
    "str": lambda _key, raw: raw,
    "url": _parse_url,
}


def parse_value(key: str, raw: str) -> Value:
    """Parse text from the command line or the environment as `key`'s type."""
    setting = setting_for(key)
    return _PARSERS[setting.type_name](key, raw)


def _check_file_value(setting: Setting, value: object, path: Path) -> Value:
    """Validate a value read from TOML, where types are already native."""
    kind = setting.type_name
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "url" and isinstance(value, str):
        return _parse_url(setting.key, value)
    raise InvalidConfigValue(setting.key, f"a {kind}", value, origin=str(path))


class ConfigValue(NamedTuple):
    setting: Setting
    value: Value
    source: Source
    origin: str | None = None  # file path or env var name


class Config(NamedTuple):
    values: Mapping[str, ConfigValue]
    warnings: tuple[str, ...] = ()

    def get(self, key: str) -> Value:
        setting_for(key)
        return self.values[key].value

    def flag(self, key: str) -> bool:
        value = self.get(key)
        return bool(value)


def user_config_path(environ: Mapping[str, str] | None = None) -> Path:
    return Path(user_config_file(os.environ if environ is None else environ))


def project_config_path(project_root: Path) -> Path:
    return project_root / ".roar" / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}; check permissions") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptConfigFile(str(exc), path=path) from exc
    if _only_comments(text):
        return {}  # the file `roar init` writes; parsing it would import a TOML parser
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        table: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CorruptConfigFile(str(exc), path=path) from exc
    return table


# Characters TOML allows nowhere, not even in a comment (a CR only before a LF).
_NOT_TOML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")


def _only_comments(text: str) -> bool:
    """Whether `text` is valid TOML holding nothing: blank lines and comments only."""
    return not _NOT_TOML.search(text) and holds_only_comments(text)


def _flatten(table: Mapping[str, Any], path: Path, warnings: list[str]) -> dict[str, Value]:
    flat: dict[str, Value] = {}
    for section, body in table.items():
        if not isinstance(body, dict):
            warnings.append(f"{path}: ignoring top-level key '{section}' (keys live in tables)")
            continue
        for name, value in body.items():
            key = f"{section}.{name}"
            if key not in SETTINGS:
                hint = _suggest(key)
                extra = f" (did you mean '{hint}'?)" if hint else ""
                warnings.append(f"{path}: ignoring unknown key '{key}'{extra}")
                continue
            flat[key] = _check_file_value(SETTINGS[key], value, path)
    return flat


def load_config(
    project_root: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Config:
    """Resolve every setting through the layers; `overrides` are `-c key=value` flags."""
    env = os.environ if environ is None else environ
    warnings: list[str] = []
    resolved = {k: ConfigValue(s, s.default, "default") for k, s in SETTINGS.items()}

    layers: list[tuple[Source, Path]] = [("user", user_config_path(env))]
    if project_root is not None:
        layers.append(("project", project_config_path(project_root)))
    for source, path in layers:
        for key, value in _flatten(_read_toml(path), path, warnings).items():
            resolved[key] = ConfigValue(SETTINGS[key], value, source, str(path))

    for key in SETTINGS:
        var = env_var_name(key)
        if var in env:
            resolved[key] = ConfigValue(SETTINGS[key], parse_value(key, env[var]), "env", var)

    for key, raw in (overrides or {}).items():
        resolved[key] = ConfigValue(setting_for(key), parse_value(key, raw), "flag", "-c")
    return Config(resolved, tuple(warnings))


def _dump_toml(table: Mapping[str, Any]) -> bytes:
    import tomli_w  # only needed when writing

    header = b"# roar settings; `roar config list` describes every key.\n"
    return header + tomli_w.dumps(table).encode("utf-8")


def set_value(path: Path, key: str, raw: str) -> Value:
    """Validate `raw` for `key` and write it to the TOML file at `path`."""
    value = parse_value(key, raw)
    setting = SETTINGS[key]
    table = _read_toml(path)
    _flatten(table, path, [])  # refuse to rewrite a file that holds bad values
    table.setdefault(setting.section, {})[setting.name] = value
    _write_file(path, _dump_toml(table))
    return value


def _write_file(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}; check permissions") from exc


def unset_value(path: Path, key: str) -> bool:
    """Remove `key` from the file at `path`; False when it was not set there."""
    setting = setting_for(key)
    table = _read_toml(path)
    section = table.get(setting.section)
    if not isinstance(section, dict) or setting.name not in section:
        return False
    del section[setting.name]
    if not section:
        del table[setting.section]
    _write_file(path, _dump_toml(table))
    return True


def format_value(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
