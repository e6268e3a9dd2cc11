"""Reading, listing and atomically writing files by local path or fsspec URL (file://, memory://, s3://).

Object stores take their endpoint and credentials from the usual places (for S3: AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws); errors name the URL, never a secret.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import os
import stat
import tempfile
import time

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import NSTError

# mkstemp creates 0600 files; give finished files the permissions a plain open() would.
_UMASK = os.umask(0)
os.umask(_UMASK)


def file_stem(path: str) -> str:
    """A file's or URL's name without folder or extension: what labels and messages call it."""
    return os.path.splitext(os.path.basename(str(path).rstrip("/")))[0]


def is_url(path) -> bool:
    return "://" in os.fspath(path)


def _filesystem(path: str):
    try:
        return fsspec.core.url_to_fs(path)
    except (ImportError, ValueError) as error:
        raise NSTError(f"cannot open this kind of URL ({error})", path=path) from None


class NoBucket(FileNotFoundError):
    """The bucket a URL names does not exist (its HEAD said 404)."""


def _causes(error: BaseException) -> list[BaseException]:
    """The error and what raised it, down the chain (s3fs keeps botocore's error as the cause)."""
    chain = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _problem(error: Exception) -> str:
    """What went wrong, in a few words (library messages can be long or multi-line), from the
    errors' types and codes, never their words."""
    causes = _causes(error)
    if isinstance(error, FileNotFoundError):
        responses = [getattr(cause, "response", None) for cause in causes]  # botocore's: a mapping
        codes = {response.get("Error", {}).get("Code") for response in responses if isinstance(response, dict)}
        no_bucket = "NoSuchBucket" in codes or any(isinstance(cause, NoBucket) for cause in causes)
        return "bucket does not exist" if no_bucket else "no such file"
    if isinstance(error, PermissionError):
        return "access denied (check the credentials and their permissions)"
    if isinstance(error, IsADirectoryError):
        return "is a directory, not a file"
    if any(isinstance(cause, ConnectionError) or "Connect" in type(cause).__name__ for cause in causes):
        return "cannot connect to the storage endpoint"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}"


@contextlib.contextmanager
def _failures_named(path, doing: str = ""):
    """Any storage failure inside becomes one NSTError line naming the path or URL."""
    try:
        yield
    except NSTError:
        raise
    except Exception as error:
        raise NSTError(f"{doing}{_problem(error)}", path=path) from None


# More than any image within Pillow's pixel limit needs (89 Mpx of 16-bit RGBA: 0.7 GB) and than
# VGG-19 weights (0.55 GB): a bigger file is refused before it is read, not read until memory ends.
MAX_READ_BYTES = 1 << 30
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


def read_bytes(path: str, limit: int = MAX_READ_BYTES) -> bytes:
    """The whole file; a missing file, anything but a regular file, a file over `limit` bytes or
    an unreachable URL is an NSTError."""
    fs, fs_path = _filesystem(str(path))
    with _failures_named(path):
        if isinstance(fs, LocalFileSystem):
            return _read_local(fs_path, limit, path)
        info = fs.info(fs_path)
        if info.get("type") == "directory":
            raise IsADirectoryError(fs_path)
        _check_size(info.get("size") or 0, limit, path)
        return fs.cat_file(fs_path)


@contextlib.contextmanager
def streamed(path: str):
    """A file to read as it goes (a video, too big to hold whole): a local path, checked to be a
    regular file, or an open fsspec file of a URL. Failures to reach it are an NSTError naming it;
    what the reader raises inside is its own."""
    with contextlib.ExitStack() as stack:
        with _failures_named(path):
            fs, fs_path = _filesystem(str(path))
            if isinstance(fs, LocalFileSystem):
                problem = not_a_file(os.stat(fs_path).st_mode)
                if problem:
                    raise NSTError(problem, path=path)
                source = fs_path
            else:
                source = stack.enter_context(fs.open(fs_path, "rb"))
        yield source


def _read_local(fs_path: str, limit: int, name) -> bytes:
    # O_NONBLOCK: opening a FIFO does not wait for a writer (it is refused just below).
    fd = os.open(fs_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(fd)
        problem = not_a_file(status.st_mode)
        if problem:
            raise NSTError(problem, path=name)
        _check_size(status.st_size, limit, name)
        data = handle.read(limit + 1)
    _check_size(len(data), limit, name)  # it grew while we read
    return data


def not_a_file(mode: int) -> str | None:
    """What a local path is, by its stat mode, when it is not a regular file nst may read."""
    if stat.S_ISREG(mode):
        return None
    kind = _KINDS.get(stat.S_IFMT(mode))
    return f"is {kind}, not a file" if kind else "not a regular file"


def _check_size(size: int, limit: int, name) -> None:
    if size > limit:
        raise NSTError(f"{size / 2**30:.1f} GiB is more than nst reads ({limit / 2**30:.0f} GiB at most)", path=name)


def check_location(url: str) -> None:
    """For a URL, an NSTError if its bucket is missing, forbidden or unreachable.

    Listings and existence checks of object stores report all three as "nothing there";
    this is what tells the user which one it is. Local paths are not checked.
    """
    if not is_url(url):
        return
    protocol = url.split("://", 1)[0]
    with _failures_named(url):
        _check_top(protocol, _filesystem(url)[1].split("/", 1)[0])


@functools.lru_cache(maxsize=64)
def _check_top(protocol: str, top: str) -> None:
    """Once per bucket and process: a batch's photos share a few buckets."""
    fs, _ = _filesystem(f"{protocol}://{top}")
    if protocol not in ("s3", "s3a"):
        fs.ls(top, detail=False)
        return
    try:
        fs.info(top)  # S3's HEAD of the bucket: one request, where a listing of its root pages through it
    except FileNotFoundError:
        raise NoBucket(top) from None


def forget() -> None:
    """Drop cached filesystems and location checks: they hold the endpoint and credentials of
    the environment that made them (a warm worker calls this before each request)."""
    _check_top.cache_clear()
    classes = [fsspec.AbstractFileSystem]
    while classes:
        cls = classes.pop()
        cls.clear_instance_cache()
        classes.extend(cls.__subclasses__())


def identity(path: str) -> tuple | None:
    """What tells one version of a local file from another (device, inode, size, change times),
    to key caches by; None for URLs and missing files (not cached)."""
    if is_url(path):
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


def expand(pattern: str) -> list[tuple[str, str | None]]:
    """Paths or URLs matching a glob pattern (sorted), or the path itself if it has no wildcard,
    each with why it cannot be read as a file (None if it can). A URL pattern costs one listing
    of its folder, not a request per match."""
    if not is_url(pattern):
        return [
            (path, _local_problem(path))
            for path in (sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern])
        ]
    if not glob.has_magic(pattern):
        return [(pattern, None if exists(pattern) else "no such file")]
    check_location(pattern)
    fs, fs_path = _filesystem(pattern)
    protocol = pattern.split("://", 1)[0]
    with _failures_named(pattern):
        matches = fs.glob(fs_path, detail=True)
    return [
        (f"{protocol}://{match}", None if info.get("type") == "file" else "is a directory, not a file")
        for match, info in sorted(matches.items())
    ]


def _local_problem(path: str) -> str | None:
    """What nst would refuse to read at a local path, or None."""
    try:
        return not_a_file(os.stat(path).st_mode)
    except OSError as error:
        return error.strerror.lower()


def exists(path: str) -> bool:
    """Whether a file exists; a URL whose bucket cannot be read is an NSTError, not False."""
    check_location(str(path))
    fs, fs_path = _filesystem(str(path))
    with _failures_named(path):
        return fs.isfile(fs_path)


# Temporary files of local writes. A write holds an flock on its file until it is renamed, so a
# leftover (a writer killed by SIGKILL or a power cut) is one nobody holds; the age is a margin.
PART_PREFIX, PART_SUFFIX = ".nst-", ".part"
PART_STALE_AFTER = 600  # seconds
_swept: dict[str, float] = {}  # folder -> when this process last removed leftovers there


def remove_leftover_parts(folder: str) -> list[str]:
    """Remove leftovers of killed writes in `folder`: only files named as ours, owned by this
    user, older than PART_STALE_AFTER and not locked by a live writer. Returns their paths."""
    removed, leftovers = [], []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        leftovers = [e for e in entries if e.name.startswith(PART_PREFIX) and e.name.endswith(PART_SUFFIX)]
    for entry in leftovers:
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                continue
            if time.time() - info.st_mtime < PART_STALE_AFTER:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer holds it
                if os.fstat(fd).st_ino == info.st_ino:
                    os.unlink(entry.path)
                    removed.append(entry.path)
            finally:
                os.close(fd)
    return removed


def _remove_leftover_parts_now_and_then(folder: str) -> None:
    """At most once an interval per folder and process: a warm worker writes thousands of files."""
    if time.monotonic() - _swept.get(folder, -PART_STALE_AFTER) >= PART_STALE_AFTER:
        _swept[folder] = time.monotonic()
        remove_leftover_parts(folder)


def write_atomic(path: str, data: bytes) -> None:
    """Write so that readers see either the old file or the whole new one, never a part.

    Locally: a temporary file in the same folder, fsynced, then renamed over the target.
    Object stores: a single PUT, which is atomic there.
    """
    fs, fs_path = _filesystem(str(path))
    with _failures_named(path, "cannot write: "):
        if isinstance(fs, LocalFileSystem):
            folder = os.path.dirname(os.path.abspath(fs_path))
            os.makedirs(folder, exist_ok=True)
            _remove_leftover_parts_now_and_then(folder)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=PART_PREFIX, suffix=PART_SUFFIX)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # held until the file is renamed and closed
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, 0o666 & ~_UMASK)
                os.replace(tmp, fs_path)
            except BaseException:
                os.unlink(tmp)
                raise
        else:
            fs.pipe_file(fs_path, data)
