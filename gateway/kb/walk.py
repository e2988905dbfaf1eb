"""Finding the files to import under the paths a person gave.

A document's path is its path relative to the argument it was found under (a file given by
itself is keyed by its name). Folders are walked recursively; hidden files and folders
(`.git`, `.env`) and files of other types are skipped. Symbolic links are followed while
they stay inside the argument: a link that leads outside it, a link loop and a broken link
are reported, as is a file given by itself whose type botgate does not read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from gateway.kb.formats import format_of


@dataclass(frozen=True)
class Found:
    path: str  # the document's path: relative, with "/" between folders
    file: Path
    problem: str | None = None  # why it cannot be imported; None when it can


@dataclass
class Walk:
    found: list[Found] = field(default_factory=list)
    skipped: int = 0  # files of other types in the folders walked


def walk(arguments: Sequence[Path], exclude: Sequence[str] = ()) -> Walk:
    result = Walk()
    origin: dict[str, Path] = {}
    for argument in arguments:
        for item in _argument(argument, exclude, result):
            if item.path in origin and origin[item.path] != argument:
                item = Found(
                    item.path,
                    item.file,
                    f"{argument} and {origin[item.path]} both hold {item.path}; import them "
                    "into separate collections, or import their common folder",
                )
            origin.setdefault(item.path, argument)
            result.found.append(item)
    return result


def _argument(argument: Path, exclude: Sequence[str], result: Walk) -> Iterator[Found]:
    if argument.is_symlink() and not argument.exists():
        yield Found(argument.name, argument, "broken symbolic link")
    elif argument.is_dir():
        root = argument.resolve()
        yield from _folder(argument, root, "", (root,), exclude, result)
    elif argument.is_file():
        problem = None if format_of(argument.name) else "unsupported file type"
        yield Found(argument.name, argument, problem)
    else:
        yield Found(argument.name, argument, "no such file or folder")


def _folder(
    folder: Path,
    root: Path,
    prefix: str,
    ancestors: tuple[Path, ...],
    exclude: Sequence[str],
    result: Walk,
) -> Iterator[Found]:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        yield Found(
            prefix.rstrip("/") or folder.name, folder, f"cannot read folder: {exc.strerror}"
        )
        return
    for entry in entries:
        relative = prefix + entry.name
        if entry.name.startswith(".") or _excluded(relative, exclude):
            continue
        yield from _entry(Path(entry.path), root, relative, ancestors, exclude, result)


def _entry(
    path: Path,
    root: Path,
    relative: str,
    ancestors: tuple[Path, ...],
    exclude: Sequence[str],
    result: Walk,
) -> Iterator[Found]:
    target = path.resolve() if path.is_symlink() else path.absolute()
    if path.is_symlink():
        if not path.exists():
            yield Found(relative, path, "broken symbolic link")
            return
        if target != root and root not in target.parents:
            yield Found(relative, path, f"symbolic link to {target}, outside the folder imported")
            return
    if path.is_dir():
        resolved = path.resolve()
        if resolved in ancestors:
            yield Found(relative, path, f"symbolic link loop (back to {resolved})")
            return
        yield from _folder(path, root, relative + "/", (*ancestors, resolved), exclude, result)
    elif format_of(path.name) is None:
        result.skipped += 1
    else:
        yield Found(relative, path)


def _excluded(relative: str, patterns: Sequence[str]) -> bool:
    parts = relative.split("/")
    return any(fnmatch(relative, p) or any(fnmatch(part, p) for part in parts) for p in patterns)
