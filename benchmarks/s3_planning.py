"""What planning a batch costs against S3 (issue 23): `snakemake --dry-run` of N photos x K artworks
with photos, paintings and results in a real S3 API (moto's server on 127.0.0.1), against the same
batch on local disk. Requests are counted from the server's log, one line per request.

Photos are empty objects (planning never reads them); paintings are real (planning decodes them).
`--unrelated N` puts N other objects in the bucket, outside the batch's prefixes, that planning
must not list. `--made` plans a second run: every output of the first already in the bucket
(uploaded as empty objects, so keep N small), which must have nothing to do.

`--run N` instead runs a whole batch of N real photos x 1 artwork (32 px, 1 iteration), on local
disk and then through S3, and prints the wall time, the jobs and the requests per job.

    python benchmarks/s3_planning.py [--photos 100 1000 10000] [--artworks 3 10] [--unrelated 0] [--made]
    python benchmarks/s3_planning.py --run 1000
"""

import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import boto3
import yaml
from pipeline_overhead import DATA, REPO, SNAKEMAKE, project

BUCKET = "nst-bench"
REQUEST = re.compile(r'"(?:\x1b\[[0-9;]*m)*([A-Z]+) (\S+) HTTP/1\.[01]')


class Moto:
    """moto's S3 server on a free loopback port, logging each request to a file."""

    def __init__(self, folder: Path):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = folder / "moto.log"
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return {
            **env,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request logged so far."""
        return REQUEST.findall(self.log.read_text(errors="replace"))

    def put_many(self, keys, body=b""):
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda key: self.client.put_object(Bucket=BUCKET, Key=key, Body=body), keys))

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def s3_project(folder: Path, moto: Moto, photos: int, artworks: int, photo: bytes = b"") -> Path:
    """The same batch as pipeline_overhead's project, its photos and paintings in the bucket."""
    project(folder, 0, 0)
    moto.put_many([f"photos/p{i:05d}.jpg" for i in range(photos)], photo)
    painting = (DATA / "starry_night.jpg").read_bytes()
    moto.put_many([f"art/s{i}.jpg" for i in range(artworks)], painting)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["photos"] = [f"s3://{BUCKET}/photos/*.jpg"]
    config["artworks"] = {f"s{i}": f"s3://{BUCKET}/art/s{i}.jpg" for i in range(artworks)}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def dry_run(folder: Path, *args, env=None) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "2", "--dry-run", *args], cwd=folder, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"dry run failed in {folder}:\n{result.stderr[-3000:]}")
    return seconds, result.stdout + result.stderr


def summary(requests) -> str:
    kinds = collections.Counter()
    for method, path in requests:
        kinds["LIST" if method == "GET" and ("list-type" in path or "prefix=" in path) else method] += 1
    return ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())


def listed_outside(request, run: str) -> bool:
    """A listing of the bucket that is not inside the batch's prefixes (photos/, art/, the run's)."""
    method, path = request
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if method != "GET" or "list-type" not in query and "prefix" not in query:
        return False
    prefix = query.get("prefix", [""])[0]
    return not prefix.startswith(("photos/", "art/", f"{run}/"))


def made_outputs(folder: Path, moto: Moto, run: str, env: dict) -> None:
    """Upload every output the first run would make (empty objects; a thumbnail folder one file),
    rule by rule in the order they run, so that each is newer than its inputs."""
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "1", "--summary", *s3_args(run)], cwd=folder, env=env, capture_output=True, text=True
    )
    prefix = f"s3://{BUCKET}/"
    by_rule = collections.defaultdict(list)
    for row in (line.split("\t") for line in result.stdout.splitlines()[1:]):
        if row[0].startswith(prefix):
            by_rule[row[2]].append(row[0][len(prefix) :] + ("/_photo.jpg" if "/gallery/thumbs/" in row[0] else ""))
    for rules in (["artwork_targets"], ["stylize"], ["artwork_sheets", "overview_sheet", "gallery"]):
        time.sleep(1.1)  # S3 times are whole seconds on some servers
        moto.put_many([key for rule in rules for key in by_rule.pop(rule, [])])
    assert not by_rule, f"outputs of rules not uploaded: {sorted(by_rule)}"


def s3_args(run: str) -> list[str]:
    return ["--workflow-profile", str(REPO / "profiles" / "s3"), "--default-storage-prefix", f"s3://{BUCKET}/{run}"]


def whole_run(photos: int) -> None:
    """A batch from start to finish on local disk, then through S3 (warm workers in both)."""
    print(f"# {os.cpu_count()} cores; snakemake --cores 2; {photos} photos x 1 artwork, 32 px, 1 iteration")
    photo = (DATA / "tubingen.jpg").read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        env = {**os.environ, "NST_WORKER_DIR": str(scratch / "workers")}
        (scratch / "local").mkdir()
        local = project(scratch / "local", photos, 1)
        started = time.perf_counter()
        subprocess.run([SNAKEMAKE, "--cores", "2", "--quiet"], cwd=local, env=env, check=True, capture_output=True)
        local_seconds = time.perf_counter() - started
        jobs = len(list((local / "logs").rglob("*.log")))
        print(f"local disk: {local_seconds:.0f} s, {jobs} jobs, {local_seconds / jobs:.2f} s/job")
        moto = Moto(scratch)
        try:
            moto.client.create_bucket(Bucket=BUCKET)
            (scratch / "s3").mkdir()
            folder = s3_project(scratch / "s3", moto, photos, 1, photo)
            before = len(moto.requests())
            started = time.perf_counter()
            run = subprocess.run(
                [SNAKEMAKE, "--cores", "2", "--quiet", *s3_args("run")],
                cwd=folder,
                env={**moto.env(), "NST_WORKER_DIR": env["NST_WORKER_DIR"]},
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            if run.returncode:
                sys.exit(run.stderr[-3000:])
            requests = moto.requests()[before:]
            print(
                f"S3: {seconds:.0f} s, {jobs} jobs, {seconds / jobs:.2f} s/job; {len(requests)} requests, "
                f"{len(requests) / jobs:.1f} per job ({summary(requests)})"
            )
        finally:
            moto.close()
            subprocess.run(["pkill", "-f", "--", f"--serve {scratch}"], check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--artworks", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--unrelated", type=int, default=0, help="other objects in the bucket, outside the batch")
    parser.add_argument("--made", action="store_true", help="also plan a second run, every output made")
    parser.add_argument("--run", type=int, metavar="N", help="run a whole batch of N photos instead")
    args = parser.parse_args()
    if args.run:
        whole_run(args.run)
        return
    print(f"# {os.cpu_count()} cores; snakemake --dry-run; S3: moto server on loopback; requests from its log")
    print(f"{'photos':>7} {'artworks':>8} {'local s':>8} {'S3 s':>7} {'requests':>8}  kinds")
    for photos in args.photos:
        for artworks in args.artworks:
            with tempfile.TemporaryDirectory() as scratch:
                scratch = Path(scratch)
                (scratch / "local").mkdir()
                local = project(scratch / "local", photos, artworks, empty_photos=True)
                local_seconds, _ = dry_run(local, "--quiet")
                shutil.rmtree(local)
                moto = Moto(scratch)
                try:
                    moto.client.create_bucket(Bucket=BUCKET)
                    moto.put_many([f"other/{i:06d}.dat" for i in range(args.unrelated)])
                    (scratch / "s3").mkdir()
                    folder = s3_project(scratch / "s3", moto, photos, artworks)
                    env = moto.env()
                    cases = [("first run", "run")]
                    if args.made:
                        cases.append(("second run", "run"))
                    for case, run in cases:
                        if case == "second run":
                            made_outputs(folder, moto, run, env)
                        before = len(moto.requests())
                        seconds, output = dry_run(folder, "--quiet", *s3_args(run), env=env)
                        requests = moto.requests()[before:]
                        outside = sum(1 for request in requests if listed_outside(request, run))
                        nothing = " (nothing to do)" if "Nothing to be done" in output else ""
                        if os.environ.get("S3_PLANNING_SHOW"):
                            print(output[-4000:])
                        print(
                            f"{photos:>7} {artworks:>8} {local_seconds:>8.1f} {seconds:>7.1f} {len(requests):>8}  "
                            f"{case}{nothing}: {summary(requests)}" + (f"; {outside} listed outside" if outside else "")
                        )
                finally:
                    moto.close()


if __name__ == "__main__":
    main()
