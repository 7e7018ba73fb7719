"""S3 client figures (issue 18, slice 1): a 256 MiB multipart PutObject and a GetObject of it, through
Berth's S3Client (`berth storage s3-check --multipart-size`) and through boto3, against the same
OpenStack Swift on loopback (Tests/integration/swiftstore.py).  Alternating rounds; wall time and the
client process's CPU (user+sys from wait4 / resource), Swift's own CPU beside.

    BERTH_BIN=.build/release/berth python3 bench/s3_client.py [rounds]
"""

import os
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "integration"))
from swiftstore import SwiftStore  # noqa: E402

SIZE = 256 << 20
PART = 10 << 20


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def swift_cpu(store):
    return sum(proc_cpu(p.pid) for p in store.procs.values())


def berth_round(store, bucket, workdir):
    config = os.path.join(workdir, "c.yml")
    with open(config, "w") as f:
        f.write(f"storage:\n  s3:\n    regionendpoint: {store.endpoint}\n    region: {store.region}\n"
                f"    bucket: {bucket}\n    accesskey: '{store.access_key}'\n    secretkey: '{store.secret_key}'\n"
                "    rootdirectory: /bench\n    secure: false\n")
    before = swift_cpu(store)
    start = time.monotonic()
    proc = subprocess.Popen([os.environ["BERTH_BIN"], "storage", "s3-check", config, "--unsigned-payload",
                             "--multipart-size", str(SIZE)], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    assert status == 0, out
    put = float(re.search(r"ok     multipart: .*\(([\d.]+) ms\)", out).group(1)) / 1000
    get = float(re.search(r"ok     multipart-get: .*\(([\d.]+) ms\)", out).group(1)) / 1000
    return put, get, usage.ru_utime + usage.ru_stime, swift_cpu(store) - before, wall


def boto3_round(store, bucket):
    import boto3
    from botocore.config import Config
    s3 = boto3.client("s3", endpoint_url=store.endpoint, region_name=store.region,
                      aws_access_key_id=store.access_key, aws_secret_access_key=store.secret_key,
                      config=Config(s3={"addressing_style": "path", "payload_signing_enabled": False},
                                    signature_version="s3v4", request_checksum_calculation="when_required",
                                    response_checksum_validation="when_required"))
    key = "bench/boto3-object"
    seed = os.urandom(PART)
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    swift_before = swift_cpu(store)
    start = time.monotonic()
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    sent = 0
    number = 1
    while sent < SIZE:
        body = seed[: min(PART, SIZE - sent)]
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
        sent += len(body)
        number += 1
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    put = time.monotonic() - start
    start = time.monotonic()
    stream = s3.get_object(Bucket=bucket, Key=key)["Body"]
    got = 0
    for chunk in stream.iter_chunks(1 << 20):
        got += len(chunk)
    get = time.monotonic() - start
    assert got == SIZE
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (self_after.ru_utime - self_before.ru_utime) + (self_after.ru_stime - self_before.ru_stime)
    s3.delete_object(Bucket=bucket, Key=key)
    return put, get, cpu, swift_cpu(store) - swift_before, put + get


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    try:
        import boto3  # noqa: F401
        have_boto3 = True
    except ImportError:
        have_boto3 = False
        print("boto3 is not installed: the boto3 comparison is skipped")
    with tempfile.TemporaryDirectory() as workdir:
        with SwiftStore(os.path.join(workdir, "swift")) as store:
            bucket = store.new_bucket()
            rows = {"berth": [], "boto3": []}
            for _ in range(rounds):
                rows["berth"].append(berth_round(store, bucket, workdir))
                if have_boto3:
                    rows["boto3"].append(boto3_round(store, bucket))
            print("client  round  put256MiB_s  get256MiB_s  client_cpu_s  swift_cpu_s")
            for name, results in rows.items():
                for index, (put, get, cpu, swift, _) in enumerate(results):
                    print(f"{name:6}  {index + 1:5}  {put:11.2f}  {get:11.2f}  {cpu:12.2f}  {swift:11.2f}")


if __name__ == "__main__":
    main()
