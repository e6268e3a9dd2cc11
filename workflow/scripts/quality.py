# The quality rule's body (quality.smk): the table, and the gallery's views of it.
import os

from nst_core.outputs import gallery_quality, quality

s = snakemake  # noqa: F821 (given by Snakemake's script directive)
records = {os.path.basename(path).removesuffix(".tsv"): path for path in s.input.photos}  # {photo}.tsv
videos = {}  # videos/{video}/{artwork}.tsv
for path in s.input.videos:
    videos.setdefault(os.path.basename(os.path.dirname(path)), []).append(path)
gallery_quality.write_quality(
    s.output.table,
    os.path.dirname(s.output.views),
    records,
    s.params.artworks,
    quality.Thresholds(**s.params.limits),
    s.log[0],
    videos,
)
