# The artwork_sheets rule's body (sheets.smk): each artwork's sheet of the page's photos, made of the
# thumbnail of it in each photo's folder.
from nst_core.files.storage import write_atomic
from nst_core.outputs import gallery, sheet

s = snakemake  # noqa: F821 (given by Snakemake's script directive)
for artwork, output in zip(s.params.artworks, s.output):
    cells = [f"{folder}/{gallery.result_thumbnail_name(artwork)}" for folder in s.input]
    sheet.write_sheet(cells, output, columns=s.params.columns, cell=s.params.cell, labels=s.params.photos)
write_atomic(s.log[0], f"wrote {len(s.output)} sheets of {len(s.input)} photos\n".encode())
