"""The Python standard library's own source files as a character-level language-modelling corpus: a text that
every machine with Python has, with no download, standing in for DeepOBS' War and Peace (tolstoi_char_rnn).

The corpus is the `.py` files under `root` (this interpreter's standard library, `sysconfig`'s "stdlib"
path, by default), less the test suites (folders named test, tests or idle_test, and files named test_*.py:
Debian and others ship them separately, so they are not on every machine) and any site-packages or
dist-packages folder inside it (installed packages, which differ between machines). The files are taken in
the order of the SHA-256 of their relative paths, a fixed shuffle that spreads the selection over the whole
library, until `characters` characters are read (the last file cut short). Whole files are held out for the
test split, about `test_fraction` of the characters, picked in that order (`held_out_files`): no file is in both.

Each character is one integer code of a fixed vocabulary of 97 (`VOCABULARY`): 0 for any other character
(tab, carriage return, anything not ASCII: 777 of the 12 million characters of CPython 3.11's library),
1 for a newline, and 2-96 for printable ASCII (space to ~, in order). Each split's text, its files joined
in that order, is cut into sequences of `sequence_length` codes, x[t], whose labels are the next
characters, y[t] = x[t + 1], as DeepOBS cuts War and Peace: (x, y) int32 arrays of shape (N, sequence_length).
The corpus differs with the Python version and distribution: a target measured on one is cited with it.

Reference: F. Schneider, L. Balles and P. Hennig, "DeepOBS: A Deep Learning Optimizer Benchmark Suite",
ICLR 2019 (the tolstoi_char_rnn problem).
"""

import hashlib
import os
import sysconfig
from pathlib import Path

import numpy as np

from trainer.config.ranges import valid
from trainer.data import Splits
from trainer.errors import DataError

OTHER, NEWLINE, FIRST_PRINTABLE = 0, 1, 2  # the codes of anything else, of "\n", and of " "
PRINTABLE = "".join(chr(c) for c in range(32, 127))  # printable ASCII, space to ~
CHARACTERS = "\ufffd\n" + PRINTABLE  # each code's character; OTHER reads back as the replacement character
VOCABULARY = len(CHARACTERS)  # 97
ASCII_CODES = np.full(128, OTHER, np.int32)  # the code of each ASCII character
ASCII_CODES[ord("\n")] = NEWLINE
ASCII_CODES[32:127] = np.arange(FIRST_PRINTABLE, VOCABULARY)
LEFT_OUT = {"test", "tests", "idle_test", "site-packages", "dist-packages"}  # folders whose files are not read


@valid(root="any", characters="int >= 2", sequence_length="int >= 1", test_fraction="(0, 1)")
def load_python_source(
    root: str | None = None, characters: int = 3_000_000, sequence_length: int = 50, test_fraction: float = 0.1
) -> Splits:
    directory = Path(root) if root is not None else Path(sysconfig.get_paths()["stdlib"])
    texts = read_corpus(directory, characters)
    held_out = held_out_files([len(text) for text in texts], test_fraction)
    if not any(held_out) or all(held_out):
        raise DataError(
            f"data.root: {directory} gives {len(texts)} source files within data.characters={characters}; "
            f"data.test_fraction={test_fraction} needs more, to hold at least one out and train on the rest"
        )
    train = "".join(text for text, test in zip(texts, held_out) if not test)
    test = "".join(text for text, test in zip(texts, held_out) if test)
    return Splits(
        train=next_character_sequences(encode(train), sequence_length, "train", directory),
        test=next_character_sequences(encode(test), sequence_length, "test", directory),
        classes=VOCABULARY,
    )


def source_files(directory: Path) -> list[Path]:
    """The corpus' .py files under `directory`, in their fixed shuffled order (SHA-256 of the relative path)."""
    if not directory.is_dir():
        raise DataError(f"data.root: {directory} is not a directory; null reads this interpreter's standard library")
    found = []
    for folder, subfolders, names in os.walk(directory):  # symbolic links to folders are not followed
        subfolders[:] = sorted(name for name in subfolders if name not in LEFT_OUT)
        found += [Path(folder, name) for name in names if name.endswith(".py") and not name.startswith("test_")]
    if not found:
        raise DataError(f"data.root: {directory} holds no .py files outside test and site-packages folders")
    return sorted(found, key=lambda path: hashlib.sha256(path.relative_to(directory).as_posix().encode()).digest())


def read_corpus(directory: Path, characters: int) -> list[str]:
    """The texts of the corpus' files in order, up to `characters` characters in all (the last one cut short).
    Newlines read as "\\n" whatever the file's line endings; bytes that are not UTF-8 as U+FFFD (OTHER)."""
    texts, count = [], 0
    for path in source_files(directory):
        text = path.read_text(encoding="utf-8", errors="replace")[: characters - count]
        texts.append(text)
        count += len(text)
        if count == characters:
            break
    return texts


def held_out_files(sizes: list[int], fraction: float) -> list[bool]:
    """Which files, of `sizes` characters in order, are held out: each one that comes while the held-out files
    hold less than `fraction` of the characters before it, so that they hold that fraction to within a file,
    whatever the sizes (every tenth file held out 5% of the library's characters)."""
    held, total, held_out = 0, 0, []
    for size in sizes:
        held_out.append(held < fraction * total)
        held, total = held + size * held_out[-1], total + size
    return held_out


def encode(text: str) -> np.ndarray:
    """The int32 code of each character of `text`."""
    points = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    return np.where(points < 128, ASCII_CODES[np.minimum(points, 127)], OTHER).astype(np.int32)


def decode(codes) -> str:
    """The text of `codes`; OTHER reads as U+FFFD."""
    return "".join(CHARACTERS[code] for code in np.asarray(codes).reshape(-1))


def next_character_sequences(codes: np.ndarray, length: int, split: str, directory: Path):
    """(x, y): consecutive sequences of `length` codes and the code after each, y[:, t] = x[:, t + 1]."""
    count = (len(codes) - 1) // length
    if count == 0:
        raise DataError(
            f"data.root: the {split} files of {directory} hold {len(codes)} characters, fewer than "
            f"data.sequence_length + 1 = {length + 1}; raise data.characters or lower data.sequence_length"
        )
    return codes[: count * length].reshape(count, length), codes[1 : count * length + 1].reshape(count, length)


def write_python_files(directory: Path, files: int = 20, lines: int = 200, seed: int = 0) -> Path:
    """Write `files` small generated .py files of learnable, repetitive code (and a test and a site-packages
    file that the corpus leaves out) into `directory`, for offline tests."""
    rng = np.random.default_rng(seed)
    names = ("value", "total", "count", "index", "result")
    for number in range(files):
        body = [f"    {names[k % 5]} = {names[(k + 1) % 5]} + {k % 10}\n" for k in rng.integers(0, 50, lines)]
        folder = directory / f"package{number % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{number}.py").write_text(f"def function{number}(value):\n" + "".join(body))
    for left_out in ("test/test_module.py", "site-packages/installed.py", "test_top.py"):
        (directory / left_out).parent.mkdir(parents=True, exist_ok=True)
        (directory / left_out).write_text("left out\n")
    return directory
