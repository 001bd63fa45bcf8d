"""The `sagemaker` executor: the same requests, sent to AWS through the Amazon provider's SageMakerHook.

Reuses the provider's hook (connections, retries, credentials) but not its naming or waiting: names are
smflow's deterministic ones, and `wait_for_job` treats Stopped as failure, which the provider's sync
`check_status` does not (reference: provider PR #42423).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore import xform_name

from smflow import settings
from smflow.executors.base import Executor
from smflow.s3_names import split_s3_uri
from smflow.tarball import pack_tarball


class SageMakerExecutor(Executor):
    name = "sagemaker"

    def __init__(self, aws_conn_id: str | None = None, region_name: str | None = None):
        self.aws_conn_id = aws_conn_id or settings.get("aws_conn_id")
        self.region_name = region_name

    @cached_property
    def hook(self) -> Any:
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

        return SageMakerHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    @cached_property
    def s3(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).get_conn()

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        method = getattr(self.hook.conn, xform_name(operation))
        response = method(**params)
        response.pop("ResponseMetadata", None)
        return dict(response)

    @cached_property
    def runtime(self) -> Any:
        """boto3's sagemaker-runtime client, from the same connection (credentials, region, endpoint_url)."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                           client_type="sagemaker-runtime").get_conn()

    def invoke_endpoint(self, params: Mapping[str, Any]) -> dict[str, Any]:
        response = dict(self.runtime.invoke_endpoint(**params))
        response.pop("ResponseMetadata", None)
        response["Body"] = response["Body"].read()
        return response

    def upload(self, source: Path, uri: str, *, tar: bool = False, dependencies: Sequence[Path] = ()) -> None:
        bucket, key = split_s3_uri(uri)
        if dependencies and not tar:
            raise ValueError(f"dependencies are packed into an archive; upload {source} to {uri} with tar=True")
        if tar:
            with tempfile.TemporaryDirectory() as tmp:
                archive = Path(tmp) / "archive.tar.gz"
                pack_tarball(source, archive, dependencies)
                self.s3.upload_file(str(archive), bucket, key)
            return
        if source.is_dir():
            for file in sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink()):
                self.s3.upload_file(str(file), bucket, f"{key.rstrip('/')}/{file.relative_to(source).as_posix()}")
        else:
            self.s3.upload_file(str(source), bucket, key)

    def download(self, uri: str, destination: Path) -> None:
        """boto3's managed download: streamed to the file in parts, never whole in memory."""
        bucket, key = split_s3_uri(uri)
        self.s3.download_file(bucket, key, str(destination))

    def read_bytes(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        buffer = io.BytesIO()
        self.s3.download_fileobj(bucket, key, buffer)
        return buffer.getvalue()

    def write_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = split_s3_uri(uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=data)

    def exists(self, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        return bool(listed.get("KeyCount"))

    def list_objects(self, prefix: str) -> list[tuple[str, str]]:
        """ListObjectsV2, every page; S3 quotes ETags (`"<md5>"`), returned here without the quotes."""
        bucket, key = split_s3_uri(prefix)
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for item in page.get("Contents", []):
                found.append((f"s3://{bucket}/{item['Key']}", str(item.get("ETag", "")).strip('"')))
        return sorted(found)
