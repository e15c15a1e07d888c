"""Where attachments' bytes are kept, behind one port: a folder (the default, local stacks) or a
bucket through the S3 API (boto3; any S3-compatible store by its endpoint URL)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Protocol


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, key, data)

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)  # whole or not at all

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)


class S3BlobStore:
    def __init__(self, bucket: str, endpoint_url: str | None = None) -> None:
        import boto3  # only where S3 is configured

        self.bucket = bucket
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ServerSideEncryption="AES256",
        )

    async def get(self, key: str) -> bytes:
        answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=key)
        return await asyncio.to_thread(answer["Body"].read)


def blob_store(kind: str, root: Path, bucket: str | None, endpoint_url: str | None) -> BlobStore:
    if kind == "s3":
        if not bucket:
            raise ValueError("ATTACHMENT_STORE=s3 needs ATTACHMENT_BUCKET")
        return S3BlobStore(bucket, endpoint_url)
    return LocalBlobStore(root)
