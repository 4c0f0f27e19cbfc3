"""The services stack's S3-compatible server: moto's S3 on a loopback port, with credentials
enforced and its buckets kept on disk.

    python -m stacks.services.s3_server --port 9300 --data-dir state/services/s3 --credentials F

moto keeps everything in memory and accepts any key by default. This launcher adds the two
things a stand-in for S3 or MinIO must have for the stack's tests to mean anything:

- Credentials. moto's IAM enforcement (``INITIAL_NO_AUTH_ACTION_COUNT=0``) is on from the first
  request; one IAM user with an ``s3:*`` policy gets an access key with the stored values from
  ``--credentials``, so the ZenML secret that holds them stays valid across restarts. A request
  signed with anything else gets moto's ``InvalidAccessKeyId`` or ``SignatureDoesNotMatch``
  (HTTP 403), as real S3 would answer.
- Persistence. Every ``--snapshot-seconds`` and on SIGTERM or SIGINT, new and changed objects are
  copied to ``--data-dir`` (one file per object, named by the SHA-256 of its key, and a manifest
  written atomically); on start the buckets and objects are loaded back, and only then is
  ``ready`` written to the data folder (what ``control`` waits for). A server that is killed
  outright loses the writes since its last snapshot, which real S3 or MinIO would not: that is
  this stand-in's one known gap (docs/decisions.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Dict

USER = "mlops-artifacts"
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def _client(endpoint: str, key: str, secret: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 2}))


def enforce_credentials(access_key_id: str, secret_access_key: str) -> None:
    """Create the one IAM user, with an ``s3:*`` policy and the stored key (see the module doc).

    Done on moto's IAM backend in this process, before the server answers anything, because
    moto's ``INITIAL_NO_AUTH_ACTION_COUNT`` counts every request, health probes included."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    backend = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_user("us-east-1", USER)
    backend.put_user_policy(USER, "s3-all", json.dumps(POLICY))
    key = backend.create_access_key(USER)
    backend.access_keys.pop(key.physical_resource_id)
    key.access_key_id, key.secret_access_key = access_key_id, secret_access_key
    backend.access_keys[key.physical_resource_id] = key


class Snapshots:
    """Buckets and objects mirrored to a folder: ``manifest.json`` maps bucket -> key -> ETag and file."""

    def __init__(self, folder: Path, s3):
        self.folder, self.s3 = folder, s3
        self.objects = folder / "objects"
        self.manifest_path = folder / "manifest.json"
        self.lock = threading.Lock()
        self.manifest: Dict[str, Dict[str, Dict[str, str]]] = (
            json.loads(self.manifest_path.read_text()) if self.manifest_path.is_file() else {})

    @staticmethod
    def _file_name(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def restore(self) -> int:
        count = 0
        for bucket, keys in self.manifest.items():
            self.s3.create_bucket(Bucket=bucket)
            for key, entry in keys.items():
                body = (self.objects / bucket / entry["file"]).read_bytes()
                self.s3.put_object(Bucket=bucket, Key=key, Body=body)
                count += 1
        return count

    def take(self) -> None:
        with self.lock:
            current: Dict[str, Dict[str, Dict[str, str]]] = {}
            for bucket in (b["Name"] for b in self.s3.list_buckets()["Buckets"]):
                known = self.manifest.get(bucket, {})
                current[bucket] = {}
                (self.objects / bucket).mkdir(parents=True, exist_ok=True)
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for item in page.get("Contents", []):
                        key, etag = item["Key"], item["ETag"]
                        entry = {"etag": etag, "file": self._file_name(key)}
                        if known.get(key, {}).get("etag") != etag:
                            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                            partial = self.objects / bucket / (entry["file"] + ".partial")
                            partial.write_bytes(body)
                            partial.replace(self.objects / bucket / entry["file"])
                        current[bucket][key] = entry
            staged = self.manifest_path.with_suffix(".partial")
            staged.write_text(json.dumps(current))
            staged.replace(self.manifest_path)
            for bucket, keys in self.manifest.items():  # objects deleted since the last snapshot
                for key, entry in keys.items():
                    if key not in current.get(bucket, {}):
                        (self.objects / bucket / entry["file"]).unlink(missing_ok=True)
            self.manifest = current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--credentials", type=Path, required=True,
                        help="JSON file with aws_access_key_id and aws_secret_access_key")
    parser.add_argument("--snapshot-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    credentials = json.loads(args.credentials.read_text())
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"  # every request is checked; read when moto is imported
    from moto.server import ThreadedMotoServer

    enforce_credentials(credentials["aws_access_key_id"], credentials["aws_secret_access_key"])
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    try:
        endpoint = f"http://{args.host}:{args.port}"
        args.data_dir.mkdir(parents=True, exist_ok=True)
        snapshots = Snapshots(args.data_dir, _client(endpoint, credentials["aws_access_key_id"],
                                                     credentials["aws_secret_access_key"]))
        restored = snapshots.restore()
        (args.data_dir / "ready").write_text(endpoint)
        print(f"S3 server on {endpoint}: {restored} object(s) restored from {args.data_dir}", flush=True)
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
        while not stopping.wait(args.snapshot_seconds):
            try:
                snapshots.take()
            except Exception as exc:  # a failed snapshot must not take the server down: say so, retry
                print(f"snapshot failed, retrying in {args.snapshot_seconds:g} s: {type(exc).__name__}: {exc}",
                      flush=True)
        snapshots.take()
        print("S3 server stopping; buckets saved", flush=True)
    finally:
        (args.data_dir / "ready").unlink(missing_ok=True)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
