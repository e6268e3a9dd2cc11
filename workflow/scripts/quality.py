# The quality rule's body (quality.smk): the table, and the gallery's views in the gallery's folder
# (where needs-a-look.html is).
import os

from nst_core import gallery_quality, quality

s = snakemake  # noqa: F821 (given by Snakemake's script directive)
gallery_quality.write_quality(
    s.output.table,
    os.path.dirname(s.output.views[0]),
    dict(zip(s.params.photos, s.input)),
    s.params.artworks,
    quality.Thresholds(**s.params.limits),
    s.log[0],
)
