"""Dataset archives: refuse members that would land outside their folder, and spot damaged archives.

A tar member may be named ``../../.bashrc`` or ``/etc/cron.d/x``, or be a link pointing outside the
folder it is extracted into; extracting it as is would write anywhere the user can write.
:func:`check_tar_member` vets each member with Python's own ``tarfile.data_filter`` (the rules of
``extractall(filter="data")``: no absolute paths, nothing outside the destination, no links leading
out of it, no device files), or with the same rules written out where the Python predates the filter.

:func:`archive_problem` reads an archive through once, so that a download cut short is noticed
before it is cached and used (a file without a checksum has no other check).
"""

from __future__ import annotations

import gzip
import os
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from dlbook.errors import DatasetFormatError

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip", ".npz")


class UnsafeArchiveError(DatasetFormatError):
    """An archive has a member that would be written outside the folder it is extracted into."""


def check_tar_member(member: tarfile.TarInfo, archive: Path, destination: Path) -> None:
    """Raise :class:`UnsafeArchiveError` if extracting ``member`` into ``destination`` could write outside it."""
    problem = _filter_problem(member, destination)
    if problem is not None:
        raise UnsafeArchiveError(
            f"{archive} has a member with an unsafe path, {member.name!r} ({problem}); dlbook refuses to extract "
            "the archive, as it could write outside the dataset folder. The archive is damaged or was tampered "
            "with: delete it and download it again, or point dataset.path at a trusted copy."
        )


def _filter_problem(member: tarfile.TarInfo, destination: Path) -> str | None:
    # The data filter strips a leading "/" and extracts the member anyway; a dataset archive naming
    # an absolute path is not trusted at all.
    if _absolute(member.name):
        return "an absolute path"
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is not None:
        try:
            data_filter(member, os.fspath(destination))
        except tarfile.FilterError as error:
            return str(error)
        return None
    return _fallback_problem(member)  # Pythons before 3.10.12 / 3.11.4


def _fallback_problem(member: tarfile.TarInfo) -> str | None:
    """The data filter's rules for Pythons without it: relative names, no '..', links that stay inside."""

    def escapes(name: str) -> bool:
        return _absolute(name) or ".." in PurePosixPath(name.replace("\\", "/")).parts

    if escapes(member.name):
        return "absolute or with '..'"
    if member.issym():
        # A symlink's target is relative to the folder that holds the link.
        target = str(PurePosixPath(member.name).parent / member.linkname)
        if PurePosixPath(member.linkname).is_absolute() or escapes(os.path.normpath(target)):
            return f"a link to {member.linkname!r}, outside the destination"
    if member.islnk() and escapes(member.linkname):
        return f"a hard link to {member.linkname!r}, outside the destination"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "a device, FIFO or other special file"
    return None


def _absolute(name: str) -> bool:
    """An absolute POSIX or Windows path (``/x``, ``\\x``, ``C:x``)."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or bool(path.parts and ":" in path.parts[0])


def archive_problem(path: Path, name: str | None = None) -> str | None:
    """What is wrong with the archive at ``path`` (a truncated or non-archive file), or None if it reads through.

    The kind is told by ``name`` (default: the file's name): a ``.zip``/``.npz`` has its central
    directory read (cheap: a cut zip has none); a gzip file (``.tar.gz``) is decompressed to its end
    and a tar read through, as a cut stream only shows there. Other files are not checked.
    """
    lowered = (name or path.name).lower()
    try:
        if lowered.endswith(ZIP_SUFFIXES):
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        elif lowered.endswith((".gz", ".tgz")):
            # Reading the gzip stream to its end checks its length and CRC, which tarfile never reaches
            # (it stops at the tar's end marker, before the gzip trailer).
            with gzip.open(path) as stream:
                while stream.read(1 << 20):
                    pass
        elif lowered.endswith(TAR_SUFFIXES):
            with tarfile.open(path, "r:*") as archive:
                for _ in archive:
                    pass
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as error:
        return f"it is not a complete archive ({error}): cut short, or another file such as an error page"
    return None
