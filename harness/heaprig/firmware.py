"""The firmware binaries a scenario needs: which variant, building it, and reading its symbols.

A scenario's config fixes the variant (slots, move support, debug); a :class:`Backend` says which
allocator source it links (target/BACKENDS.md; default: ours). ``make firmware`` (QEMU ELF) or
``make host`` (the same core as a host program) builds it at the repository root, each distinct
backend in a build folder of its own. Builds are serialised with ``flock`` on
``build/.heaprig-build.lock`` so that pytest-xdist workers asking for the same variant do not
race; each process asks make once per variant and backend (make itself skips what is up to date).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import FirmwareBuildError, RunError
from .render import Frame
from .scenario import Config

ROOT_ENV = "HEAPRIG_ROOT"
"""Environment variable naming the repository root (default: found from this package)."""
LOCK_FILE = Path("build") / ".heaprig-build.lock"
MAKE_TARGETS = {"qemu": "firmware", "host": "host"}
PATH_TARGETS = {"qemu": "firmware-path", "host": "host-path"}
"""make targets that print where the build of a variant and backend lands (target/*.mk)."""
BUILD_TIMEOUT = 900.0
ADDR2LINE = "arm-none-eabi-addr2line"
TARGETS = tuple(MAKE_TARGETS)


@dataclass(frozen=True)
class Variant:
    """A firmware build: handle slots, move support, debug checks, and the backend it links
    (so that builds, caches and batches of scenarios are told apart by backend too)."""

    slots: int
    move: bool
    debug: bool
    backend: Backend = field(default_factory=lambda: DEFAULT_BACKEND)

    @classmethod
    def of(cls, config: Config, backend: Backend | None = None) -> Variant:
        """The build ``config`` asks for; ``backend`` (the command line's) wins over the
        scenario's own ``backend:`` section, which wins over the default."""
        chosen = backend if backend is not None else config.backend
        return cls(config.slots, config.move, config.debug,
                   chosen if chosen is not None else DEFAULT_BACKEND)

    @property
    def dirname(self) -> str:
        return f"s{self.slots}-m{int(self.move)}-d{int(self.debug)}"

    def make_arguments(self) -> list[str]:
        return [f"SLOTS={self.slots}", f"MOVE={int(self.move)}", f"DEBUG={int(self.debug)}"]


@dataclass(frozen=True)
class Backend:
    """The allocator source a build links (target/backend.mk): ``source`` a C file (absolute, or
    relative to ``root`` when given, else to the repository), ``root`` a source tree also searched
    for includes, ``cflags`` extra compiler flags for the backend alone. ``Backend()`` is the
    default backend, target/allocator/supervisor_heap.c."""

    source: Path | None = None
    root: Path | None = None
    cflags: str = ""

    @property
    def is_default(self) -> bool:
        return self.source is None and self.root is None and not self.cflags

    @classmethod
    def given(cls, source: str | Path | None, root: str | Path | None = None, cflags: str = "",
              base: Path | None = None) -> Backend:
        """A backend as a user names it (command line, scenario ``backend:`` section): ``root``
        relative to ``base`` (default: the working directory), ``source`` relative to ``root``
        when given, else to ``base``. Made absolute, so that one backend is one build whoever
        names it and however. ``source`` None: ours (with ``cflags``)."""
        base = (base if base is not None else Path.cwd()).resolve()
        tree = (base / root).resolve() if root is not None else None
        if source is not None and tree is None:
            source = (base / source).resolve()
        return cls(Path(source) if source is not None else None, tree, cflags.strip())

    @property
    def file(self) -> Path | None:
        """The source file it compiles (None: the default backend)."""
        if self.source is None:
            return None
        return self.root / self.source if self.root is not None else self.source

    def problem(self) -> str | None:
        """Why this backend cannot be built as named (a missing file or folder), else None."""
        if self.root is not None and not self.root.is_dir():
            return f"the source tree {self.root} is not a folder"
        if self.root is not None and self.source is None:
            return "a source tree needs the path of the backend's C file inside it"
        if self.source is not None and self.root is not None and self.source.is_absolute():
            return f"{self.source} must be a path inside the source tree {self.root}"
        file = self.file
        if file is not None and not file.is_file():
            return f"the backend source {file} does not exist"
        return None

    def __str__(self) -> str:
        what = "the default backend" if self.file is None else str(self.file)
        return what + (f" [{self.cflags}]" if self.cflags else "")

    def make_arguments(self) -> list[str]:
        """All three always, empty ones too: a BACKEND* in the environment (``make test
        BACKEND=...`` exports it to pytest and so to every make the harness runs) must not
        leak into a build that asks for another backend, ours included."""
        return [f"BACKEND={self.source if self.source is not None else DEFAULT_BACKEND_SOURCE}",
                f"BACKEND_ROOT={self.root if self.root is not None else ''}",
                f"BACKEND_CFLAGS={self.cflags}"]


DEFAULT_BACKEND_SOURCE = "target/allocator/supervisor_heap.c"
"""Our allocator, relative to the repository (target/backend.mk's BACKEND_DEFAULT)."""


DEFAULT_BACKEND = Backend()


def backend_choice(source: str | None, root: str | None, cflags: str | None, base: Path,
                   option: str) -> Backend | None:
    """A command line's backend options (``option`` names them in messages) as a Backend, paths
    relative to ``base``; None when none was given. RunError if it names nothing buildable."""
    if source is None and root is None and cflags is None:
        return None
    if root is not None and source is None:
        raise RunError(f"{option}-root needs {option} (the C file's path inside the tree)")
    backend = Backend.given(source, root, cflags or "", base)
    problem = backend.problem()
    if problem is not None:
        raise RunError(f"{option}: {problem}")
    return backend


def repo_root(explicit: str | Path | None = None) -> Path:
    """The heaprig repository: ``explicit``, else ``$HEAPRIG_ROOT``, else the checkout this
    package lives in (``harness/heaprig`` → two levels up)."""
    candidate = explicit or os.environ.get(ROOT_ENV)
    root = Path(candidate) if candidate else _PACKAGE_CHECKOUT
    if root not in _checkouts:          # asked for every scenario's verdict: check it once
        if not (root / "Makefile").is_file():
            raise RunError(f"{root} is not a heaprig checkout (no Makefile); set {ROOT_ENV} or "
                           f"--heaprig-root")
        _checkouts[root] = root.resolve()
    return _checkouts[root]


_PACKAGE_CHECKOUT = Path(__file__).resolve().parents[2]
_checkouts: dict[Path, Path] = {}


def binary_path(root: Path, variant: Variant, target: str = "qemu",
                backend: Backend | None = None) -> Path:
    """Where the build of ``variant`` for ``target`` lands (target/firmware.mk, target/host.mk).
    Another backend's folder is named by a hash of it, which make computes: make is asked.
    ``backend`` None: the variant's."""
    backend = backend if backend is not None else variant.backend
    if not backend.is_default:
        return _make_binary_path(root, variant, target, backend)
    if target == "qemu":
        return root / "build" / "fw" / variant.dirname / "heaprig.elf"
    return root / "build" / "host" / variant.dirname / "heaprig-host"


def _make_command(root: Path, make_target: str, variant: Variant, backend: Backend) -> list[str]:
    return ["make", "-s", "-C", str(root), make_target, *variant.make_arguments(),
            *backend.make_arguments()]


def _source_stamp(root: Path, backend: Backend) -> tuple[int, int] | None:
    """The backend file's modification time and size: its build folder's hash covers its
    content, so a path make gave is only good while these are unchanged."""
    file = backend.file if backend.file is not None else Path(DEFAULT_BACKEND_SOURCE)
    try:
        status = (root / file).stat()          # `root / file` is `file` when it is absolute
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


_paths: dict[tuple[Path, str, Variant, Backend, tuple[int, int] | None], Path] = {}
"""Paths make computed, remembered: asking make costs a process per scenario of a batch."""


def _make_binary_path(root: Path, variant: Variant, target: str, backend: Backend) -> Path:
    key = (root, target, variant, backend, _source_stamp(root, backend))
    if key in _paths:
        return _paths[key]
    command = _make_command(root, PATH_TARGETS[target], variant, backend)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FirmwareBuildError(f"cannot run make: {error}", root) from None
    if done.returncode != 0 or not done.stdout.strip():
        message = (done.stdout + done.stderr).strip() or f"exit {done.returncode}"
        raise FirmwareBuildError(f"`{' '.join(['make', *command[4:]])}`: {message}", root)
    _paths[key] = root / done.stdout.strip().splitlines()[-1]
    return _paths[key]


_built: dict[tuple[Path, str, Variant, Backend], Path] = {}


def build(root: Path, variant: Variant, target: str = "qemu",
          backend: Backend | None = None) -> Path:
    """Builds (if needed) and returns the binary for ``variant`` linking ``backend`` (None: the
    variant's); FirmwareBuildError if make fails or produces nothing."""
    backend = backend if backend is not None else variant.backend
    key = (root, target, variant, backend)
    if key in _built and _built[key].is_file():
        return _built[key]
    path = binary_path(root, variant, target, backend)
    command = _make_command(root, MAKE_TARGETS[target], variant, backend)
    # As a user would type it: the default backend's explicit BACKEND* arguments are noise.
    shown = " ".join(["make", *(command[4:-3] if backend.is_default else command[4:])])
    _built[key] = run_make(root, command, shown, path)
    return path


def build_name(root: Path, variant: Variant) -> str:
    """The name of ``variant``'s build: its QEMU image's folder under build/fw/ (the variant,
    plus the backend's hash for another backend than ours)."""
    return binary_path(root, variant, "qemu").parent.name


@dataclass(frozen=True)
class MultiImage:
    """A multi-build image (target/rig/builds.h, target/multi.mk): its ELF, and the names of the
    builds it holds in its own order (the ``select_build`` event's index)."""

    path: Path
    builds: tuple[str, ...]

    def index(self, root: Path, variant: Variant) -> int:
        return self.builds.index(build_name(root, variant))


_built_multi: dict[tuple[Path, tuple[str, ...]], MultiImage] = {}


def build_multi(root: Path, variants: Iterable[Variant]) -> MultiImage:
    """Builds (if needed) the QEMU image holding the build of each of ``variants`` (each with its
    own backend), after the ordinary build of each, whose backend object it takes.
    FirmwareBuildError as :func:`build`."""
    variants = set(variants)
    for variant in variants:
        build(root, variant, "qemu")
    names = tuple(sorted({build_name(root, variant) for variant in variants}))
    key = (root, names)
    if key in _built_multi and _built_multi[key].path.is_file():
        return _built_multi[key]
    path = root / "build" / "fw" / "multi" / "+".join(names) / "heaprig.elf"
    command = ["make", "-s", "-C", str(root), "firmware-multi", f"BUILDS={' '.join(names)}",
               *DEFAULT_BACKEND.make_arguments()]
    run_make(root, command, " ".join(["make", *command[4:-3]]), path)
    _built_multi[key] = MultiImage(path, names)
    return _built_multi[key]


def run_make(root: Path, command: list[str], shown: str, path: Path) -> Path:
    """Runs a build ``command`` (``shown`` as a user would type it) under the build lock, so
    that pytest-xdist workers do not build one thing at once; returns ``path``, which it must
    have made. FirmwareBuildError (with the last lines of make's output) otherwise."""
    lock = root / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise FirmwareBuildError(f"{' '.join(command)} took longer than {BUILD_TIMEOUT:.0f} s",
                                     path) from None
        except OSError as error:
            raise FirmwareBuildError(f"cannot run make: {error}", path) from None
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n".join(output[-30:])
        raise FirmwareBuildError(f"`{shown}` failed (exit {done.returncode}):\n{tail}", path)
    if not path.is_file():
        raise FirmwareBuildError(f"`{shown}` succeeded but did not make {path}", path)
    return path


# Below this is the Cortex-M3 vector table (16 words), not code; --gc-sections leaves the debug
# information of removed functions at address 0, so addr2line would name a wrong function there.
VECTOR_TABLE_END = 0x40
# What the board reports when the core could not stack the PC (e.g. on a stack overflow).
PC_NOT_STACKED = 0xFFFFFFFF


def code_address(address: int) -> bool:
    """Whether a fault PC can name a source line at all."""
    return VECTOR_TABLE_END <= address < PC_NOT_STACKED


def addr2line(elf: Path, address: int, root: Path | None = None) -> list[Frame]:
    """``address`` (a fault PC) → the function and ``file:line`` of each inlined frame, innermost
    first, files relative to ``root`` when below it. Empty if the tool is missing or knows
    nothing of the address."""
    tool = shutil.which(ADDR2LINE)
    if tool is None or not elf.is_file() or not code_address(address):
        return []
    try:
        done = subprocess.run([tool, "-e", str(elf), "-f", "-i", f"{address:#x}"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    lines = done.stdout.splitlines()
    prefix = f"{root.resolve()}/" if root is not None else None
    frames = []
    for function, location in zip(lines[::2], lines[1::2]):
        if function == "??" and location.startswith("??"):
            continue
        if prefix and location.startswith(prefix):
            location = location[len(prefix):]
        frames.append(Frame(function, location.split(" (discriminator")[0]))
    return frames
