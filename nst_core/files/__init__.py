"""Files: paths and URLs read and written atomically (fsspec), image and tensor files, and the
hashes of what a result was made from. No torch but in tensors.py."""
