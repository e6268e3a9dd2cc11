"""Planning in S3 by listings: a patch to snakemake-storage-plugin-s3 0.3.6 (issue 23).

The plugin's inventory lists the folder of the first object Snakemake asks about, then marks the
whole bucket as done, so every other object costs three requests one after another (HEAD of the
bucket, HEAD of the object, a listing of key/): hours before the first job at 10,000 photos.
Here each folder that holds an object Snakemake asks about is listed once, paginated (a request
per 1,000 objects), while Snakemake plans; every existence, modification time and size then comes
from the listings. A bucket found once is not asked about again.
"""

import importlib.metadata
import posixpath
import sys

WRITTEN_FOR = "0.3.6"


def apply():
    """Patch the installed plugin where it is the version this was written for."""
    try:
        version = importlib.metadata.version("snakemake-storage-plugin-s3")
    except importlib.metadata.PackageNotFoundError:
        return
    if version != WRITTEN_FOR:
        print(
            f"Warning: snakemake-storage-plugin-s3 {version} is not {WRITTEN_FOR}, which"
            " workflow/nst_patches/s3_listing.py patches: planning in S3 may cost requests per object",
            file=sys.stderr,
        )
        return
    from snakemake_storage_plugin_s3 import StorageObject

    if getattr(StorageObject, "nst_listing", False):
        return  # patched already in this process
    plain_exists, plain_bucket_exists, plain_remove = (
        StorageObject.exists,
        StorageObject.bucket_exists,
        StorageObject.remove,
    )

    async def inventory(self, cache):
        listings = _listings(self.provider)
        if listings.usable(cache):
            listings.cover(self)

    def exists(self):
        known = _listings(self.provider).exists(self)
        return plain_exists(self) if known is None else known

    def bucket_exists(self):
        # asked before most requests of a run (a quarter of them); asked once, until remove()
        buckets = _listings(self.provider).buckets
        if self.bucket not in buckets and plain_bucket_exists(self):
            buckets.add(self.bucket)
        return self.bucket in buckets

    def remove(self):
        plain_remove(self)  # which deletes the bucket where it leaves it empty
        _listings(self.provider).buckets.discard(self.bucket)

    StorageObject.inventory = inventory
    StorageObject.exists = exists
    StorageObject.bucket_exists = bucket_exists
    StorageObject.remove = remove
    StorageObject.nst_listing = True


def _listings(provider):
    if not hasattr(provider, "nst_listings"):
        provider.nst_listings = Listings()
    return provider.nst_listings


class Listings:
    """What the listings of one storage provider found, kept in Snakemake's IO cache while it plans,
    and the buckets it has found."""

    def __init__(self):
        self.cache, self.folders, self.buckets = None, set(), set()
        self.sentinel = f"{id(self)}:nst-s3-listings"

    def usable(self, cache) -> bool:
        """Bind to the cache Snakemake plans with. Not in a job's own process: Snakemake runs it with
        --max-inventory-time 0 (an attribute outside the plugin interface), and it checks only its
        job's few files, where listing their folders would cost more."""
        if getattr(cache, "remaining_wait_time", 1) <= 0:
            return False
        if cache is not self.cache:
            self.cache, self.folders = cache, set()
            cache.exists_in_storage[self.sentinel] = True
        return True

    def planning(self) -> bool:
        # Snakemake clears its cache when it stops trusting it (after planning, before any job):
        # from then on, every answer comes from the object store again.
        return self.cache is not None and self.sentinel in self.cache.exists_in_storage

    def exists(self, obj):
        """Whether obj exists, from its folder's listing; None where no listing may answer."""
        if not self.cover(obj):
            return None
        return self.cache.exists_in_storage.get(obj.cache_key(), False)

    def cover(self, obj):
        """List obj's folder, unless it or a folder above it was listed (listings go down the
        whole tree). Never a bucket's root: other runs and other data may hold most of it.
        Whether a listing covers obj now."""
        folder = posixpath.dirname(obj.key)
        # an object with a local path of its own (a source archive, the between-workflow cache) has no cache key
        if not folder or not self.planning() or obj._overwrite_local_path:
            return False
        above = folder.split("/")
        if not any((obj.bucket, "/".join(above[:n])) in self.folders for n in range(1, len(above) + 1)):
            self._list(obj, folder)
            self.folders.add((obj.bucket, folder))
        return True

    def _list(self, obj, folder):
        from botocore.exceptions import ClientError
        from snakemake_interface_storage_plugins.io import Mtime

        client = obj.provider.s3c.meta.client
        found = {}  # cache key -> (modification time, size) of objects and of the folders holding them
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=obj.bucket, Prefix=f"{folder}/"):
                for item in page.get("Contents", []):
                    key, mtime, size = item["Key"], item["LastModified"].timestamp(), item["Size"]
                    if key.endswith("/"):  # a folder marker, not a file
                        continue
                    found[obj.cache_key(obj._local_suffix_from_key(key))] = (mtime, size)
                    # a directory output's time is its newest file's, as the plugin's mtime() says
                    parent = posixpath.dirname(key)
                    while len(parent) > len(folder):
                        name = obj.cache_key(obj._local_suffix_from_key(parent))
                        before = found.get(name, (mtime, 0))
                        found[name] = (max(before[0], mtime), before[1] + size)
                        parent = posixpath.dirname(parent)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "NoSuchBucket":
                return  # nothing in it exists
            problem = "access denied (check s3:ListBucket)" if code in ("AccessDenied", "403") else code
            # the pipeline's one line for a batch that cannot run (Snakemake would wrap a WorkflowError in two)
            print(f"Error: s3://{obj.bucket}/{folder}/: cannot list it: {problem}", file=sys.stderr)
            raise SystemExit(2) from None
        for name, (mtime, size) in found.items():
            self.cache.exists_in_storage[name] = True
            self.cache.mtime[name] = Mtime(storage=mtime)
            self.cache.size[name] = size
