"""Exceptions carrying a difflm status code and the library's message."""
from . import lowlevel
from ._native import lib


class Error(Exception):
    """A difflm call failed. `code` is the DIFFLM_E_* status (negative), `name` its
    symbolic name ("E_IO"), `message` the library's detail text."""

    def __init__(self, code, message=""):
        self.code = code
        self.name = lowlevel.STATUS_NAMES.get(code, "status %d" % code)
        self.message = message or lib.difflm_status_str(code).decode("utf-8", "replace")
        super().__init__("%s (%d): %s" % (self.name, code, self.message))


class Cancelled(Error):
    """Generation stopped through Context.cancel() or a step callback (E_CANCELLED)."""


def make_error(code, message=""):
    cls = Cancelled if code == lowlevel.E_CANCELLED else Error
    return cls(code, message)
