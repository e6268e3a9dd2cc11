"""Files of tensors (weights, Gram targets) read safely: torch.load with weights_only=True."""

from __future__ import annotations

import io
import pickle
import warnings

import torch

from ..errors import NSTError


def load_tensors(data: bytes, source: str, what: str):
    """torch.load with weights_only=True: tensors and plain containers, never other objects.

    A file holding anything else is refused in one line, without torch's advice to retry with
    weights_only=False (which would run whatever the file contains).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before refusing
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise NSTError(f"not {what} (it holds Python objects other than tensors; not loaded)", path=source) from None
    except Exception as error:  # zip and format errors
        raise NSTError(f"not {what} ({type(error).__name__}: {str(error)[:200]})", path=source) from None
