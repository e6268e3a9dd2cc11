"""Reading and atomically writing files by local path or fsspec URL (file://, memory://, s3://)."""

from __future__ import annotations

import os
import tempfile

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import NSTError

# mkstemp creates 0600 files; give finished files the permissions a plain open() would.
_UMASK = os.umask(0)
os.umask(_UMASK)


def _filesystem(path: str):
    try:
        return fsspec.core.url_to_fs(path)
    except (ImportError, ValueError) as error:
        raise NSTError(f"{path}: cannot open this kind of URL ({error})") from None


def read_bytes(path: str) -> bytes:
    """The whole file; a missing file, a folder or an unreadable URL is an NSTError."""
    fs, fs_path = _filesystem(str(path))
    try:
        if fs.isdir(fs_path):
            raise NSTError(f"{path}: is a directory, not a file")
        return fs.cat_file(fs_path)
    except FileNotFoundError:
        raise NSTError(f"{path}: no such file") from None
    except PermissionError:
        raise NSTError(f"{path}: permission denied") from None
    except OSError as error:
        raise NSTError(f"{path}: cannot read ({error.strerror or error})") from None


def write_atomic(path: str, data: bytes) -> None:
    """Write so that readers see either the old file or the whole new one, never a part.

    Locally: a temporary file in the same folder, fsynced, then renamed over the target.
    Object stores: a single PUT, which is atomic there.
    """
    fs, fs_path = _filesystem(str(path))
    try:
        if isinstance(fs, LocalFileSystem):
            folder = os.path.dirname(os.path.abspath(fs_path))
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".nst-", suffix=".part")
            try:
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
    except OSError as error:
        raise NSTError(f"{path}: cannot write ({error.strerror or error})") from None
