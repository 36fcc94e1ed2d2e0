"""Small shared functions for every triage command.

Everything a command writes goes through write_atomically (a temporary file
in the same directory, then a rename), so a reader never sees half a file;
directories of output are made by fresh_directory, which refuses to reuse a
directory that already holds something.
"""
import json
import os
import sys
import tempfile

PROG = "reservoir triage"


class TriageError(Exception):
    """A failure with a one-line reason, raised by library code that must
    not exit (callers that are commands turn it into fail())."""


def fail(reason, status=2):
    """Print `reservoir triage: <reason>` (one line) on stderr and exit.

    `status` is the exit status: 2 (the default) for usage errors, missing
    or unreadable inputs; 1 for a job that found a failure. Raises
    SystemExit, so it never returns."""
    reason = " ".join(str(reason).split())
    print(f"{PROG}: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(status)


def read_text(path):
    """The text of `path`, decoded as UTF-8 with errors='replace' (a log is
    read whatever bytes it holds). A missing or unreadable file, or a
    directory, is a fail() with the reason."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except IsADirectoryError:
        fail(f"{path}: is a directory, not a file")
    except OSError as e:
        fail(f"{path}: cannot read: {e.strerror or e}")
    return data.decode("utf-8", errors="replace")


def write_atomically(path, data, overwrite=False, mode=0o644):
    """Write `data` (str or bytes) to `path`: a temporary file in the same
    directory, fsync, then rename over `path`. With overwrite=False (the
    default) an existing `path` is a fail(); the directory must exist.
    Returns `path`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.lexists(path):
        fail(f"{path}: already exists; refusing to overwrite it")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            # link + unlink: fails instead of replacing a file that appeared
            # meanwhile.
            try:
                os.link(tmp, path)
            except FileExistsError:
                fail(f"{path}: already exists; refusing to overwrite it")
            os.unlink(tmp)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return path


def fresh_directory(path):
    """Create directory `path` (and its parents) for a command's output.
    An existing empty directory is accepted; an existing non-empty one, or
    a file at `path`, is a fail(): outputs never mix with older ones.
    Returns `path`."""
    if os.path.lexists(path):
        if not os.path.isdir(path):
            fail(f"{path}: exists and is not a directory")
        if os.listdir(path):
            fail(f"{path}: directory exists and is not empty; "
                 "choose a fresh output directory")
        return path
    try:
        os.makedirs(path)
    except OSError as e:
        fail(f"{path}: cannot create directory: {e.strerror or e}")
    return path


def dump_json(obj):
    """`obj` as JSON text: sorted keys, two-space indent, final newline, so
    equal objects give equal bytes."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def repo_root():
    """The repository root this package lives in (triage/..)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
