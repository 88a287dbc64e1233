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
from dataclasses import dataclass
from pathlib import Path

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
    """A firmware build: handle slots, move support, debug checks."""

    slots: int
    move: bool
    debug: bool

    @classmethod
    def of(cls, config: Config) -> Variant:
        return cls(config.slots, config.move, config.debug)

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

    def make_arguments(self) -> list[str]:
        arguments = []
        if self.source is not None:
            arguments.append(f"BACKEND={self.source}")
        if self.root is not None:
            arguments.append(f"BACKEND_ROOT={self.root}")
        if self.cflags:
            arguments.append(f"BACKEND_CFLAGS={self.cflags}")
        return arguments


DEFAULT_BACKEND = Backend()


def repo_root(explicit: str | Path | None = None) -> Path:
    """The heaprig repository: ``explicit``, else ``$HEAPRIG_ROOT``, else the checkout this
    package lives in (``harness/heaprig`` → two levels up)."""
    candidate = explicit or os.environ.get(ROOT_ENV)
    root = Path(candidate) if candidate else Path(__file__).resolve().parents[2]
    if not (root / "Makefile").is_file():
        raise RunError(f"{root} is not a heaprig checkout (no Makefile); set {ROOT_ENV} or "
                       f"--heaprig-root")
    return root.resolve()


def binary_path(root: Path, variant: Variant, target: str = "qemu",
                backend: Backend = DEFAULT_BACKEND) -> Path:
    """Where the build of ``variant`` for ``target`` lands (target/firmware.mk, target/host.mk).
    Another backend's folder is named by a hash of it, which make computes: make is asked."""
    if not backend.is_default:
        return _make_binary_path(root, variant, target, backend)
    if target == "qemu":
        return root / "build" / "fw" / variant.dirname / "heaprig.elf"
    return root / "build" / "host" / variant.dirname / "heaprig-host"


def _make_command(root: Path, make_target: str, variant: Variant, backend: Backend) -> list[str]:
    return ["make", "-s", "-C", str(root), make_target, *variant.make_arguments(),
            *backend.make_arguments()]


def _make_binary_path(root: Path, variant: Variant, target: str, backend: Backend) -> Path:
    command = _make_command(root, PATH_TARGETS[target], variant, backend)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FirmwareBuildError(f"cannot run make: {error}", root) from None
    if done.returncode != 0 or not done.stdout.strip():
        message = (done.stdout + done.stderr).strip() or f"exit {done.returncode}"
        raise FirmwareBuildError(f"`{' '.join(['make', *command[4:]])}`: {message}", root)
    return root / done.stdout.strip().splitlines()[-1]


_built: dict[tuple[Path, str, Variant, Backend], Path] = {}


def build(root: Path, variant: Variant, target: str = "qemu",
          backend: Backend = DEFAULT_BACKEND) -> Path:
    """Builds (if needed) and returns the binary for ``variant`` linking ``backend``;
    FirmwareBuildError if make fails or produces nothing."""
    key = (root, target, variant, backend)
    if key in _built and _built[key].is_file():
        return _built[key]
    path = binary_path(root, variant, target, backend)
    command = _make_command(root, MAKE_TARGETS[target], variant, backend)
    shown = " ".join(["make", *command[4:]])
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
    _built[key] = path
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
