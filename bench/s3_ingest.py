"""The ingest service into S3 storage: a large source streamed as a multipart upload; seconds, MB/s and peak RSS.

    .venv/bin/python bench/s3_ingest.py [--size-mib 1024]

Uses AWS_S3_ENDPOINT_URL (with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) when set, otherwise starts a throwaway
moto_server with scripts/services.sh (moto keeps objects in memory: give it the RAM for --size-mib). The source is
a generator of 1 MiB chunks, as the integrations pass `requests`' iter_content. Compared, in the same run, with
boto3's own upload_fileobj of the same generator (its default: 10 threads, 8 MiB parts). Target: peak RSS growth
under 64 MiB whatever the size.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, measure, s3_bucket, setup, verdict  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    s3, bucket = s3_bucket()
    setup(prefix="mediaspace-bench-s3-")

    from django.contrib.auth import get_user_model

    from mediaspace import services
    from mediaspace.ingest import entry_ingest

    owner = get_user_model().objects.create_user("bench", password="bench-pw-1")
    size = args.size_mib * MIB
    block = b"\x1aE\xdf\xa3" + b"v" * (MIB - 4)

    def source():
        for _ in range(args.size_mib):
            yield block

    class Reader:  # the same generator as a file object, for boto3's own upload
        def __init__(self):
            self.chunks, self.pending = source(), b""

        def read(self, amount=-1):
            while len(self.pending) < amount:
                chunk = next(self.chunks, None)
                if chunk is None:
                    break
                self.pending += chunk
            data, self.pending = self.pending[:amount], self.pending[amount:]
            return data

    ok = True
    seconds, growth, entry = measure(lambda: entry_ingest(
        source="upload", reference_id="bench", owner=owner, name="Bench", stream=source(), filename="big.webm"))
    stored = s3.head_object(Bucket=bucket, Key=entry.media.name)
    assert entry.is_received and stored["ContentLength"] == size, entry.error  # ready, or processing next
    parts = stored["ETag"].strip('"').rsplit("-", 1)[-1]
    print(f"ingest {args.size_mib} MiB into S3: {seconds:.1f} s ({size / seconds / 1e6:.0f} MB/s), {parts} parts, "
          f"peak RSS growth {growth:.1f} MiB")
    ok &= verdict(growth < 64, f"peak RSS growth {growth:.1f} MiB (target < 64 MiB)")
    services.entry_delete(entry=entry)
    plain_seconds, plain_growth, _ = measure(lambda: s3.upload_fileobj(Reader(), bucket, "plain/big.webm"))
    print(f"boto3 upload_fileobj (10 threads), same bytes: {plain_seconds:.1f} s "
          f"({size / plain_seconds / 1e6:.0f} MB/s), peak RSS growth {plain_growth:.1f} MiB")
    s3.delete_object(Bucket=bucket, Key="plain/big.webm")
    s3.delete_bucket(Bucket=bucket)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
