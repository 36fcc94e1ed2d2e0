"""What every campaign script shares: one-line usage errors, progress
messages, atomic writes and the repository root."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_prog = ["reservoir fuzz"]


def set_prog(name):
    """Names the command in fail() and say() messages."""
    _prog[0] = name


def prog():
    return _prog[0]


def fail(message, status=2):
    """A one-line reason on stderr and exit (2: bad usage)."""
    print(f"{_prog[0]}: {message}", file=sys.stderr)
    sys.exit(status)


def say(message):
    print(f"[{_prog[0]}] {message}", file=sys.stderr, flush=True)


def write_atomically(path, data):
    """Writes text or bytes to a temporary file beside `path`, then renames
    it over `path`: readers see the old or the new file, never half."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    if isinstance(data, bytes):
        temporary.write_bytes(data)
    else:
        temporary.write_text(data)
    os.replace(temporary, path)


def write_new_file(path, data):
    """Writes bytes to `path` only if it does not exist (temp + link): never
    overwrites. Returns True if the file was written."""
    path = Path(path)
    if path.exists():
        return False
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_bytes(data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True
