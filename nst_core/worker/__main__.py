"""`python -m nst_core.worker ARGS` runs `nst ARGS` in a warm worker; --serve FOLDER N is the
worker itself (the client starts it)."""

import sys

if sys.argv[1:2] == ["--serve"]:
    from .server import serve

    serve(sys.argv[2], int(sys.argv[3]))
else:
    from .client import run

    sys.exit(run(sys.argv[1:]))
