"""The errors users see, and their wording, in one place: a problem and the facts of where it is
(the file, the photo, the artwork, the places around them), each kept as a field; one line
made of them, exit status 2 from the CLI. Code that adds what it knows (a photo job adds its
photo and artwork) adds facts; nothing reads or edits a message's text."""

from __future__ import annotations

import copy


class NSTError(Exception):
    """Bad input or an impossible request. problem: what is wrong, in words; path: the file it
    is in, if one is. Facts added on the way out (at): places around it (a config key, a job
    file and its entry), the photo and the artwork of the image it cost."""

    kind = "input"

    def __init__(self, problem: str, *, path: str | None = None):
        # Keep it to one line whatever the underlying library said.
        self.problem = " ".join(str(problem).split())
        self.path = path
        self.places: tuple[str, ...] = ()
        self.photo: str | None = None
        self.artwork: str | None = None
        super().__init__(self.problem)

    def at(self, *places: str, photo: str | None = None, artwork: str | None = None) -> NSTError:
        """The same error with more facts: places around the ones it has (outermost first), the
        photo and the artwork it is about (None: as it was)."""
        error = copy.copy(self)
        error.places = (*filter(None, places), *self.places)
        error.photo = photo or self.photo
        error.artwork = artwork or self.artwork
        return error.with_traceback(None)

    def __str__(self) -> str:
        """The one line: its places, then the photo, the artwork and the file, then the problem,
        each named once."""
        names = []
        for name in (*self.places, self.photo, self.artwork, self.path):
            if name and name not in names:
                names.append(str(name))
        return ": ".join([*names, self.problem])

    def __reduce__(self):  # copies and pickles keep the facts
        return _rebuilt, (type(self), self.__dict__)


def _rebuilt(kind: type, facts: dict) -> NSTError:
    error = kind.__new__(kind)
    Exception.__init__(error, facts["problem"])
    error.__dict__.update(facts)
    return error


class OutOfMemory(NSTError):
    """A run that did not fit in memory after all: the plan's estimate was short."""

    kind = "out-of-memory"


class Diverged(NSTError):
    """An image whose optimisation diverged (a non-finite loss or pixels): it alone is lost."""

    kind = "diverged"
