"""A checkpoint store under an S3 prefix (AWS, SeaweedFS, MinIO, ...), through boto3.

Create-only writes are `PutObject` with `If-None-Match: *`; compare-and-swap is
`PutObject` with `If-Match: <etag>`, and a guarded delete is `DeleteObject` with
`If-Match`. 412 (precondition failed), 409 (conditional request conflict) and a 404 on a
conditional write all mean another writer won: `ConflictError`. botocore's own retries
are off; roar's retry layer (`checkpoints.max_retries`) does them, so the count the user
configured is the count that happens.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from roar.checkpoints.backends.base import Backend, Blob, Entry
from roar.errors import BackendError, ConflictError, NotFoundError, UsageError

if TYPE_CHECKING:
    from roar.checkpoints.backends import BackendSettings

__all__ = ["S3Backend"]

T = TypeVar("T")

_MIB = 1 << 20
_RETRYABLE_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
}
_UPLOAD_THREADS = 8
#: The server refused who we are, not what we asked: the fix is in the credentials.
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
}


def _import_boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise UsageError(
            "s3:// checkpoint stores need boto3; install it with `pip install 'roar[s3]'`"
        ) from exc
    return boto3


#: botocore's data loaders by data path: the S3 model and endpoint rules, parsed once per
#: process. Parsing them is most of what a new client costs (0.1-0.3 s here, against
#: 25 ms with a loader that has them), and every store opens its own session.
_LOADERS: dict[str, Any] = {}


def _botocore_session() -> Any:
    """A new botocore session (credentials, region and settings read afresh from the
    environment and config files, as before) that shares the process's data loader: the
    loader holds only botocore's own JSON data, the same for every session."""
    from botocore.loaders import create_loader
    from botocore.session import Session

    session = Session()
    data_path = session.get_config_variable("data_path")
    key = "" if data_path is None else str(data_path)
    loader = _LOADERS.get(key)
    if loader is None:
        loader = _LOADERS[key] = create_loader(data_path)
    session.register_component("data_loader", loader)
    return session


class S3Backend(Backend):
    def __init__(self, bucket: str, prefix: str, settings: BackendSettings) -> None:
        boto3 = _import_boto3()
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.endpoint = settings.endpoint_url or "AWS S3"
        cache = settings.cache_dir or Path.home() / ".cache" / "roar" / "checkpoints"
        self._staging = cache / "staging" / hashlib.sha256(self.url.encode()).hexdigest()[:16]
        config = Config(
            connect_timeout=settings.timeout,
            read_timeout=settings.timeout,
            retries={"total_max_attempts": 1},
            s3={"addressing_style": "path"} if settings.endpoint_url else None,
            max_pool_connections=2 * _UPLOAD_THREADS,
        )
        self._s3 = boto3.session.Session(botocore_session=_botocore_session()).client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region or "us-east-1",
            config=config,
        )
        self._transfer = TransferConfig(
            multipart_threshold=64 * _MIB,
            multipart_chunksize=64 * _MIB,
            max_concurrency=_UPLOAD_THREADS,
        )

    @classmethod
    def from_url(cls, url: str, settings: BackendSettings) -> S3Backend:
        rest = url[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UsageError(f"bad S3 URL {url!r}: use s3://bucket/prefix")
        return cls(bucket, prefix, settings)

    def _key(self, key: str) -> str:
        return self.prefix + key

    @contextmanager
    def _errors(self, what: str, *, conditional: bool = False) -> Iterator[None]:
        """Translate botocore's errors into roar's, with the fix in the message."""
        from botocore import exceptions as bce

        try:
            yield
        except bce.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if conditional and status in (409, 412):
                raise ConflictError(f"{what}: another writer got there first ({code})") from exc
            if status == 404 or code in ("NoSuchKey", "NotFound"):
                if code == "NoSuchBucket":
                    raise BackendError(
                        code, f"{what}: bucket {self.bucket!r} does not exist; create it first"
                    ) from exc
                if conditional:
                    raise ConflictError(f"{what}: it is gone (deleted by another writer)") from exc
                raise NotFoundError(f"{what}: not found in {self.url}") from exc
            if status == 403 or code in _AUTH_CODES:
                raise BackendError(
                    code,
                    f"{what}: {error.get('Message') or code} ({code}); check the credentials "
                    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile in ~/.aws) "
                    f"and their rights on bucket {self.bucket!r}",
                ) from exc
            retryable = status >= 500 or status == 429 or code in _RETRYABLE_CODES
            raise BackendError(
                code, f"{what}: {error.get('Message') or code}", retryable=retryable
            ) from exc
        except bce.NoCredentialsError as exc:
            raise BackendError(
                "NoCredentials",
                f"{what}: no AWS credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or a profile in ~/.aws)",
            ) from exc
        except (bce.EndpointConnectionError, bce.ConnectionError, bce.HTTPClientError) as exc:
            raise BackendError(
                "unreachable", f"{what}: cannot reach {self.endpoint} ({exc})", retryable=True
            ) from exc

    def read(self, key: str) -> Blob:
        with self._errors(f"reading {key}"):
            reply = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))
            return Blob(reply["Body"].read(), str(reply["ETag"]))

    def write(self, key: str, data: bytes) -> str:
        with self._errors(f"writing {key}"):
            reply = self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
            return str(reply["ETag"])

    def create(self, key: str, data: bytes) -> str:
        with self._errors(f"creating {key}", conditional=True):
            reply = self._s3.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*"
            )
            return str(reply["ETag"])

    def swap(self, key: str, data: bytes, etag: str) -> str:
        with self._errors(f"updating {key}", conditional=True):
            reply = self._s3.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, IfMatch=etag
            )
            return str(reply["ETag"])

    def delete(self, key: str, etag: str | None = None) -> None:
        extra = {"IfMatch": etag} if etag is not None else {}
        with self._errors(f"deleting {key}", conditional=etag is not None):
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(key), **extra)

    def list(self, prefix: str) -> list[Entry]:
        found: list[Entry] = []
        with self._errors(f"listing {prefix}"):
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(Entry(str(item["Key"])[len(self.prefix) :], int(item["Size"])))
        return sorted(found, key=lambda e: e.key)

    def staging_root(self) -> Path:
        return self._staging

    def _upload(self, source: Path, key: str) -> None:
        with self._errors(f"uploading {key}"):
            self._s3.upload_file(str(source), self.bucket, self._key(key), Config=self._transfer)

    def publish(self, prefix: str, source: Path, paths: Sequence[str]) -> None:
        self._parallel(lambda rel: self._upload(source / rel, f"{prefix}/{rel}"), paths)

    @staticmethod
    def _parallel(work: Callable[[str], None], items: Sequence[str]) -> None:
        if len(items) <= 1:
            for item in items:
                work(item)
            return
        with ThreadPoolExecutor(_UPLOAD_THREADS, thread_name_prefix="roar-s3") as pool:
            for _ in pool.map(work, items):
                pass

    def fetch(self, key: str, dest: Path) -> None:
        tmp = dest.with_name(dest.name + ".part")
        with self._errors(f"downloading {key}"):
            self._s3.download_file(self.bucket, self._key(key), str(tmp), Config=self._transfer)
        os.replace(tmp, dest)

    def close(self) -> None:
        self._s3.close()
