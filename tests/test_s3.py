"""Photos in and results out of a real S3 API (moto server on 127.0.0.1), through the real
`nst` and `snakemake` commands. The tests start and stop the servers themselves."""

import contextlib
import importlib.metadata
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import (
    DATA,
    FAST,
    PHOTO,
    REPO,
    SNAKEMAKE,
    STYLE,
    end_workers,
    make_project,
    planned_outputs,
    run_cli,
    snakemake,
    worker_pids,
)
from nst_core.outputs import gallery
from nst_core.video import video_files

boto3 = pytest.importorskip("boto3")
pytest.importorskip("s3fs")
pytest.importorskip("snakemake_storage_plugin_s3")

SECRET = "s3cr3t-never-in-logs-7Q"
BUCKET = "nst-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto(extra_env=None, log=None):
    """moto's S3 server; `log` gets a line per request it serves."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **(extra_env or {})},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w") if log else subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("moto_server did not start")


def _env(endpoint):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **env,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "2",  # an unreachable endpoint fails in seconds, not minutes
    }


REQUEST = re.compile(r'"(?:\x1b\[[0-9;]*m)*([A-Z]+) (\S+) HTTP/1\.[01]')


class Requests:
    """The requests a moto server logged, from the moment this is made."""

    def __init__(self, log: Path):
        self.log = log
        self.start = len(self._all())

    def _all(self):
        return REQUEST.findall(self.log.read_text(errors="replace"))

    def __call__(self):
        return self._all()[self.start :]

    def listings(self):
        return [path for method, path in self() if method == "GET" and "list-type=2" in path]


@pytest.fixture(scope="module")
def moto_log(tmp_path_factory):
    return tmp_path_factory.mktemp("moto") / "requests.log"


@pytest.fixture(scope="module")
def s3(moto_log):
    server, endpoint = _start_moto(log=moto_log)
    env = _env(endpoint)
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key=SECRET, region_name="us-east-1"
    )
    client.create_bucket(Bucket=BUCKET)
    for path, key in [
        (PHOTO, "photos/tubingen.jpg"),
        (DATA / "chelsea.png", "photos/chelsea.png"),
        (STYLE, "art/starry.jpg"),
    ]:
        client.upload_file(str(path), BUCKET, key)
    yield client, env
    server.terminate()
    server.wait(timeout=10)


def _keys(client, prefix=""):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def _s3_listing():
    spec = importlib.util.spec_from_file_location("s3_listing", REPO / "workflow" / "nst_patches" / "s3_listing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_listing_patch_refuses_a_plugin_version_it_was_not_written_for(monkeypatch, capsys):
    import snakemake_storage_plugin_s3 as plugin

    s3_listing = _s3_listing()
    assert importlib.metadata.version("snakemake-storage-plugin-s3") == s3_listing.WRITTEN_FOR
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.4.0")
    before = plugin.StorageObject.inventory, plugin.StorageObject.exists
    s3_listing.apply()
    assert (plugin.StorageObject.inventory, plugin.StorageObject.exists) == before
    assert "snakemake-storage-plugin-s3 0.4.0 is not 0.3.6" in capsys.readouterr().err


def test_nst_stylize_reads_and_writes_s3(s3):
    client, env = s3
    url = f"s3://{BUCKET}"
    result = run_cli(
        "stylize",
        f"{url}/photos/tubingen.jpg",
        "--style",
        f"{url}/art/starry.jpg",
        "-o",
        f"{url}/cli/out.png",
        *FAST,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert client.get_object(Bucket=BUCKET, Key="cli/out.png")["Body"].read().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "photo, output, message",
    [
        ("photos/missing.jpg", f"s3://{BUCKET}/cli/a.png", f"s3://{BUCKET}/photos/missing.jpg: no such file"),
        ("photos/tubingen.jpg", "s3://no-such-bucket/a.png", "s3://no-such-bucket/a.png: bucket does not exist"),
    ],
)
def test_nst_s3_errors_are_one_line_and_leave_nothing(s3, photo, output, message):
    client, env = s3
    result = run_cli(
        "stylize", f"s3://{BUCKET}/{photo}", "--style", f"s3://{BUCKET}/art/starry.jpg", "-o", output, *FAST, env=env
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"nst stylize: error: {message}"]
    assert _keys(client, "cli/a") == []


def _s3_project(tmp_path, photos_prefix="photos"):
    config = {
        "photos": [f"s3://{BUCKET}/{photos_prefix}/*"],
        "artworks": {"starry": f"s3://{BUCKET}/art/starry.jpg"},
        "nst": {"size": 32, "iterations": 2, "coarse_iterations": 1, "min_size": None, "device": "cpu"},
        "sheets": {"cell": 32},
    }
    return make_project(tmp_path, config)


def _on_s3(prefix):
    return ["--workflow-profile", "profiles/s3", "--default-storage-prefix", f"s3://{BUCKET}/{prefix}"]


def _planning(workdir, run, env, moto_log):
    """A dry run's output and the requests it sent."""
    requests = Requests(moto_log)
    result = snakemake(workdir, *_on_s3(run), "--dry-run", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr, requests


def test_pipeline_end_to_end_with_reruns(s3, moto_log, tmp_path):
    client, env = s3
    workdir = _s3_project(tmp_path)
    result = snakemake(workdir, *_on_s3("run1"), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    results = _keys(client, "run1/results/")
    for key in [
        "targets/starry.pt",
        "stylized/starry/tubingen.png",
        "stylized/starry/chelsea.png",
        "sheets/starry/first.jpg",
        "sheets/overview.jpg",
        "gallery/index.html",  # beside the results, with its thumbnails
        "gallery/thumbs/tubingen/starry.jpg",
        "gallery/thumbs/chelsea/_photo.jpg",
        "gallery/paintings/starry.jpg",
        "quality.tsv",  # made from a record per photo
        "quality/chelsea.tsv",
        f"gallery/{gallery.NEEDS_A_LOOK}",
    ]:
        assert f"run1/results/{key}" in results
    assert not (workdir / "results").exists(), "results live in the bucket, not on local disk"
    # a second run has nothing to do, and planning it lists folders instead of asking per object
    output, requests = _planning(workdir, "run1", env, moto_log)
    assert "Nothing to be done" in output
    assert len(requests()) <= 30, requests()
    assert not [path for method, path in requests() if method == "HEAD" and "/run1/" in path], requests()
    assert all(re.search(r"[?&]prefix=(photos|art|run1)/", path) for path in requests.listings()), requests()
    # forty more photos: the same few listings, not requests per photo
    many = [f"photos/more{i:02d}.jpg" for i in range(40)]
    for key in many:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"")
    try:
        output, more = _planning(workdir, "run1", env, moto_log)
    finally:
        for key in many:
            client.delete_object(Bucket=BUCKET, Key=key)
    assert re.search(r"^stylize\s+40$", output, re.M), output
    assert len(more()) <= len(requests()) + 2, more()
    # one new object in the photo prefix runs only its jobs (and the sheets)
    client.upload_file(str(STYLE), BUCKET, "photos/night.jpg")
    try:
        planned = planned_outputs(workdir, *_on_s3("run1"), env=env)
    finally:
        client.delete_object(Bucket=BUCKET, Key="photos/night.jpg")
    prefix = f"s3://{BUCKET}/run1/results"
    gallery_outputs = [*gallery.pages(["tubingen", "chelsea", "night"], ["starry"]), "paintings/starry.jpg"]
    downstream = {f"{prefix}/sheets/starry/first.jpg", f"{prefix}/sheets/overview.jpg", f"{prefix}/quality.tsv"}
    downstream.add(f"{prefix}/gallery/{gallery.QUALITY_VIEWS}")

    def photo_job(photo):
        return {f"{prefix}/{path}" for path in (f"stylized/starry/{photo}.png", f"gallery/thumbs/{photo}")} | {
            f"{prefix}/quality/{photo}.tsv"
        }

    assert planned == photo_job("night") | downstream | {f"{prefix}/gallery/{path}" for path in gallery_outputs}

    # a deleted result object: its photo's job again
    client.delete_object(Bucket=BUCKET, Key="run1/results/stylized/starry/chelsea.png")
    assert planned_outputs(workdir, *_on_s3("run1"), env=env) == photo_job("chelsea") | downstream
    # a result object newer than its inputs is left alone; a photo object newer than its results is not
    time.sleep(1.1)  # S3 times are whole seconds
    key = "run1/results/stylized/starry/tubingen.png"
    client.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": key}, MetadataDirective="REPLACE")
    assert planned_outputs(workdir, *_on_s3("run1"), env=env) == photo_job("chelsea") | downstream
    client.upload_file(str(PHOTO), BUCKET, "photos/tubingen.jpg")
    assert (
        planned_outputs(workdir, *_on_s3("run1"), env=env) == photo_job("chelsea") | photo_job("tubingen") | downstream
    )
    # a new artwork: each photo's job runs again and adds its image
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["artworks"]["scream"] = f"s3://{BUCKET}/art/starry.jpg"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    third = snakemake(workdir, *_on_s3("run1"), env=env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert {"run1/results/stylized/scream/tubingen.png", "run1/results/sheets/scream/first.jpg"} <= set(
        _keys(client, "run1/results/")
    )
    # credentials never appear in anything the run wrote or printed
    texts = [result.stdout, result.stderr]
    texts += [
        p.read_text(errors="replace")
        for p in workdir.rglob("*")
        if p.is_file() and p.suffix in ("", ".log", ".tsv", ".txt", ".yaml")
    ]
    texts += [
        client.get_object(Bucket=BUCKET, Key=k)["Body"].read().decode(errors="replace")
        for k in results
        if k.endswith((".log", ".tsv"))
    ]
    assert not any(SECRET in text for text in texts)


def test_bad_photo_in_the_bucket_leaves_nothing_partial(s3, tmp_path):
    client, env = s3
    for key, path in [("mixed/tubingen.jpg", PHOTO)]:
        client.upload_file(str(path), BUCKET, key)
    client.put_object(Bucket=BUCKET, Key="mixed/broken.jpg", Body=b"not an image")
    workdir = _s3_project(tmp_path, photos_prefix="mixed")
    result = snakemake(workdir, *_on_s3("run2"), "--keep-going", env=env)
    assert result.returncode != 0
    assert "broken.jpg: not an image" in result.stdout + result.stderr
    keys = _keys(client, "run2/results/stylized/")
    assert keys == ["run2/results/stylized/starry/tubingen.png"]


@pytest.mark.parametrize("case", ["missing results bucket", "missing photo bucket", "wrong credentials", "unreachable"])
def test_pipeline_s3_errors_are_clear_before_any_job(s3, tmp_path, case):
    client, env = s3
    workdir = _s3_project(tmp_path)
    args = _on_s3("run3")
    if case == "missing results bucket":
        args = _on_s3("x")[:-1] + ["s3://no-such-bucket/x"]
        message = "s3://no-such-bucket/x: bucket does not exist"
    elif case == "missing photo bucket":
        config = yaml.safe_load((workdir / "config.yaml").read_text())
        config["photos"] = ["s3://no-such-bucket/photos/*.jpg"]
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        message = "s3://no-such-bucket/photos/*.jpg: bucket does not exist"
    elif case == "wrong credentials":
        server, endpoint = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})  # checks credentials
        env = _env(endpoint)
        message = f"s3://{BUCKET}/run3: access denied"
    else:
        env = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}"}
        message = f"s3://{BUCKET}/run3: cannot connect to the storage endpoint"
    try:
        result = snakemake(workdir, *args, env=env)
    finally:
        if case == "wrong credentials":
            server.terminate()
            server.wait(timeout=10)
    output = result.stdout + result.stderr
    assert result.returncode == 2 and f"Error: {message}" in result.stderr, output
    assert 'File "' not in result.stderr
    assert SECRET not in output
    assert _keys(client, "run3/") == []


@pytest.mark.parametrize("unlisted", ["results", "paintings"])
def test_a_prefix_that_cannot_be_listed_stops_planning_in_one_line(tmp_path, unlisted):
    """Credentials that may read and write objects but not list the results' (or the paintings')
    bucket: planning goes by listings, so it stops before any job, naming what it could not list."""
    import json

    paintings = "nst-unlisted" if unlisted == "paintings" else BUCKET
    setup = [  # unauthenticated, then each request is checked against the user's policy
        ("iam", "create_user", {"UserName": "nst"}),
        (
            "iam",
            "put_user_policy",
            {
                "UserName": "nst",
                "PolicyName": "p",
                "PolicyDocument": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                            {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::nst-unlisted"},
                        ],
                    }
                ),
            },
        ),
        ("iam", "create_access_key", {"UserName": "nst"}),
        ("s3", "create_bucket", {"Bucket": BUCKET}),
        ("s3", "create_bucket", {"Bucket": "nst-unlisted"}),
        ("s3", "put_object", {"Bucket": BUCKET, "Key": "photos/tubingen.jpg", "Body": PHOTO.read_bytes()}),
        ("s3", "put_object", {"Bucket": paintings, "Key": "art/starry.jpg", "Body": STYLE.read_bytes()}),
    ]
    server, endpoint = _start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": str(len(setup))})
    try:
        clients = {
            service: boto3.client(
                service,
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="setup",
                aws_secret_access_key="setup",
            )
            for service in ("iam", "s3")
        }
        answers = [getattr(clients[service], call)(**kwargs) for service, call, kwargs in setup]
        key = answers[2]["AccessKey"]
        env = {
            **_env(endpoint),
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        workdir = _s3_project(tmp_path)
        config = yaml.safe_load((workdir / "config.yaml").read_text())
        config["photos"] = [f"s3://{BUCKET}/photos/*.jpg"]
        config["artworks"] = {"starry": f"s3://{paintings}/art/starry.jpg"}
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        results = "s3://nst-unlisted/run" if unlisted == "results" else f"s3://{BUCKET}/run"
        result = snakemake(workdir, "--workflow-profile", "profiles/s3", "--default-storage-prefix", results, env=env)
        again = snakemake(workdir, "--workflow-profile", "profiles/s3", "--default-storage-prefix", results, env=env)
    finally:
        server.terminate()
        server.wait(timeout=10)
    errors = [line for line in result.stderr.splitlines() if "rror" in line]
    where = "s3://nst-unlisted/run/" if unlisted == "results" else "s3://nst-unlisted/art/"
    assert result.returncode == 2
    assert len(errors) == 1 and where in errors[0] and "access denied" in errors[0], result.stdout + result.stderr
    assert 'File "' not in result.stderr
    assert (again.returncode, again.stderr.count("Error:")) == (2, 1), "nothing left behind (a lock) stops the next run"


class Proxy:
    """A TCP relay to the S3 server that can be switched off and on: the endpoint going away."""

    def __init__(self, target_port: int):
        self.target_port, self.port = target_port, _free_port()
        self.listener, self.sockets = None, []

    def start(self):
        import threading

        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self):
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.sockets.clear()


def test_endpoint_going_away_mid_run_is_clear_and_a_rerun_completes(s3, tmp_path):
    client, env = s3
    proxy = Proxy(int(env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]))
    proxy.start()
    env = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}
    workdir = _s3_project(tmp_path)
    run = subprocess.Popen(
        [str(SNAKEMAKE), "--cores", "1", *_on_s3("run5")],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _keys(client, "run5/results/stylized/") and time.monotonic() < deadline:
        time.sleep(0.2)
    proxy.stop()  # the first result is uploaded; the endpoint goes away
    output, _ = run.communicate(timeout=300)
    assert run.returncode != 0
    # Snakemake's S3 plugin reports the endpoint and the object it was reading or writing (a
    # photo, a result, a log or the thumbnails folder, depending on the moment): in its own line
    # (`Failed to store output in storage s3://...`) or, where the plugin lists a folder, in a
    # traceback whose URL names the key; for a bucket-level request the URL ends at the bucket
    endpoint = rf'Could not connect to the endpoint URL: "http://127\.0\.0\.1:{proxy.port}/{BUCKET}'
    assert re.search(endpoint + '[/"?]', output), output
    named = re.search(rf"^Failed to [a-z ]+ s3://{BUCKET}/\S+$", output, re.M)
    assert named or re.search(endpoint + "/(run5|photos)/", output), output
    assert SECRET not in output
    proxy.start()
    assert snakemake(workdir, "--unlock", *_on_s3("run5"), env=env).returncode == 0
    rerun = snakemake(workdir, *_on_s3("run5"), env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    keys = _keys(client, "run5/results/")
    for key in ["stylized/starry/tubingen.png", "stylized/starry/chelsea.png", "sheets/overview.jpg"]:
        assert f"run5/results/{key}" in keys
    proxy.stop()


def test_a_warm_worker_follows_each_requests_endpoint(s3, tmp_path):
    # Issue 14: a worker kept the first request's S3 filesystem, so a later request with
    # another endpoint wrote to the first one, and an unreachable endpoint "succeeded".
    first, env = s3
    server, endpoint = _start_moto()
    try:
        second = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )
        second.create_bucket(Bucket=BUCKET)
        worker = {"NST_WORKER_DIR": str(tmp_path / "workers"), "OMP_NUM_THREADS": "1"}
        job = [sys.executable, "-m", "nst_core.worker", "stylize", PHOTO, "--style", STYLE, *FAST]
        runs = [
            ({**env, **worker}, "worker/first.png"),
            ({**_env(endpoint), **worker}, "worker/second.png"),
            ({**_env(f"http://127.0.0.1:{_free_port()}"), **worker}, "worker/nowhere.png"),
        ]
        results = [
            subprocess.run([*map(str, job), "-o", f"s3://{BUCKET}/{key}"], env=run_env, capture_output=True, text=True)
            for run_env, key in runs
        ]
        assert len(worker_pids(tmp_path)) == 1, "all three ran in one warm worker"
        assert [r.returncode for r in results] == [0, 0, 2], [r.stderr for r in results]
        assert _keys(first, "worker/") == ["worker/first.png"]
        assert _keys(second, "worker/") == ["worker/second.png"]
    finally:
        end_workers(tmp_path)
        server.terminate()
        server.wait(timeout=10)
    assert results[2].stderr.strip().splitlines() == [
        f"nst stylize: error: s3://{BUCKET}/worker/nowhere.png: cannot connect to the storage endpoint"
    ]


def test_a_video_in_the_bucket_is_stylized_into_the_bucket_with_its_row_and_page(s3, tmp_path):
    """A video read from S3 and its results written there: the plan (a checkpoint) read back for
    its segments, the segments going on from each other, the join, the quality row, the preview."""
    client, env = s3
    clip = tmp_path / "clip.mp4"
    source = video_files.scan(str(REPO / "demo" / "videos" / "bigbuckbunny.mp4"))
    video_files.write_video(video_files.frames(source, (64, 36), 40, 5), source, str(clip), first=40)
    client.upload_file(str(clip), BUCKET, "videos/clip.mp4")
    config = {
        "videos": [f"s3://{BUCKET}/videos/*.mp4"],
        "artworks": {"starry": f"s3://{BUCKET}/art/starry.jpg"},
        "nst": {"size": 32, "iterations": 2, "coarse_iterations": 1, "min_size": None, "device": "cpu"},
        "sheets": {"cell": 32},
    }
    config["nst"].update(frame_iterations=2, segment_frames=2)
    (tmp_path / "project").mkdir()
    workdir = make_project(tmp_path / "project", config)
    result = snakemake(workdir, *_on_s3("video"), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    keys = set(_keys(client, "video/results/"))
    for key in ["stylized/starry/clip.mp4", "videos/clip/plan.json", "videos/clip/starry/2.mp4"]:
        assert f"video/results/{key}" in keys, sorted(keys)
    assert {"quality.tsv", "sheets/videos/clip.jpg", "gallery/videos/clip.mp4", "gallery/videos/clip.html"} <= {
        key.removeprefix("video/results/") for key in keys
    }
    made = tmp_path / "made.mp4"
    client.download_file(BUCKET, "video/results/stylized/starry/clip.mp4", str(made))
    assert video_files.scan(str(made)).frames == 5
    table = client.get_object(Bucket=BUCKET, Key="video/results/quality.tsv")["Body"].read().decode()
    (row,) = [line.split("\t") for line in table.splitlines() if line.startswith("clip\t")]
    header = table.splitlines()[0].split("\t")
    assert row[header.index("artwork")] == "starry" and row[header.index("frames")] == "5"
    assert row[header.index("precision")] in ("bf16", "fp32")  # as it ran, not the setting's auto
    assert not (workdir / "results").exists(), "results live in the bucket, not on local disk"
