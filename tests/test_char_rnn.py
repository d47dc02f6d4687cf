"""experiment=python_char_rnn: the source-code corpus on small generated .py files (never the machine's own
standard library, whose contents differ between Pythons), and a short run of the char RNN on them."""

import json
import math
import shutil

import numpy as np
import pytest
from trainer.plugins.data.python_source import (
    OTHER,
    PRINTABLE,
    VOCABULARY,
    decode,
    encode,
    held_out_files,
    load_python_source,
    write_python_files,
)

from tests.conftest import read_scalars
from trainer.errors import DataError
from trainer.train import train

SMALL = ("data.sequence_length=20", "model.embedding=16", "model.units=[32,32]")  # a model that trains in seconds


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_python_files(tmp_path_factory.mktemp("stdlib"))


def texts(examples) -> str:
    """The text of a split's consecutive sequences: every x, then the last label."""
    x, y = examples
    return decode(x) + decode(y[-1, -1:])


def test_codes_round_trip_to_the_text_and_other_characters_share_one_code():
    text = PRINTABLE + "\n" + "def f(x):\n    return x\n"
    codes = encode(text)

    assert VOCABULARY == 97 and codes.dtype == np.int32 and codes.max() == VOCABULARY - 1
    assert decode(codes) == text
    assert encode("\té\r’").tolist() == [OTHER] * 4


def test_labels_are_the_next_characters_of_the_files_split_by_file(source):
    data = load_python_source(str(source), characters=10**6, sequence_length=50, test_fraction=0.2)
    functions = {}
    for split in ("train", "test"):
        x, y = getattr(data, split)
        assert x.shape == y.shape and x.shape[1] == 50 and x.dtype == y.dtype == np.int32
        assert np.array_equal(y[:, :-1], x[:, 1:]) and np.array_equal(y[:-1, -1], x[1:, 0])
        text = texts((x, y))
        functions[split] = {line for line in text.splitlines() if line.startswith("def ")}
        assert "left out" not in text  # test suites and site-packages
    assert data.classes == VOCABULARY
    assert functions["train"].isdisjoint(functions["test"])
    assert len(functions["train"] | functions["test"]) == 20  # every file, each in one split
    assert 0.1 < len(data.test[0]) / (len(data.train[0]) + len(data.test[0])) < 0.3


def test_the_selection_and_split_are_the_same_wherever_the_files_are(source, tmp_path):
    moved = shutil.copytree(source, tmp_path / "elsewhere")
    first, again = (load_python_source(str(root), characters=20000, sequence_length=50) for root in (source, moved))

    for split in ("train", "test"):
        assert all(np.array_equal(a, b) for a, b in zip(getattr(first, split), getattr(again, split)))
    assert len(texts(first.train)) + len(texts(first.test)) <= 20000


def test_held_out_files_hold_the_fraction_of_characters_to_within_a_file():
    sizes = [1000, 10, 10, 500, 10, 10, 10, 2000, 10, 10] * 10
    held = held_out_files(sizes, 0.1)

    assert abs(sum(s for s, h in zip(sizes, held) if h) - 0.1 * sum(sizes)) <= max(sizes)


def test_a_folder_without_enough_files_is_refused(tmp_path):
    with pytest.raises(DataError, match="is not a directory"):
        load_python_source(str(tmp_path / "missing"))
    (tmp_path / "one.py").write_text("x = 1\n" * 100)
    with pytest.raises(DataError, match="needs more"):
        load_python_source(str(tmp_path))


def test_experiment_lowers_the_loss_and_reports_test_accuracy(make_config, source, tmp_path):
    cfg = make_config("experiment=python_char_rnn", f"data.root={source}", *SMALL, "trainer.steps=80",
                      "trainer.log_every=10", "optimizer.learning_rate=0.05")  # fmt: skip
    metrics = train(cfg)

    losses = [value for _, value in read_scalars(tmp_path / "run")["train/loss"]]
    assert losses[0] < 1.1 * math.log(VOCABULARY) and metrics["loss"] < 0.6 * losses[0]
    assert metrics["test_accuracy"] > 0.55  # the generated files repeat a few lines: 0.69 after 80 steps
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics
