"""Fault injection, one section per numbered item of "nothing wrong is accepted, nothing half-written is
trusted": each test feeds the exact bad input (or kills a process at a chosen point, by a hook, not a timer)
and checks the one-paragraph error with exit status 2, or the cleanup / recovery that follows."""

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from polyvore_fixture import make_root
from recbole_outfit import atomic
from recbole_outfit.data import convert as convert_module
from recbole_outfit.data import polyvore
from recbole_outfit.data.convert import atomic_paths, convert, is_complete, main as convert_main
from recbole_outfit.data.prepare import ensure_synthetic_root

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = "polyvore630"
TINY = ["--image_size=8", "--workers=1"]
TINY_GENERATOR = {"seed": 3, "scale": 0.1, "garment_scale": None, "difficulty": 0.5, "image_px": 32}


def fixture_root(tmp_path):
    root = str(tmp_path / "raw")
    make_root(root)
    return root


def run_convert(capsys, *args):
    """``python -m recbole_outfit.data.convert ARGS`` in this process: (exit status, stderr)."""
    capsys.readouterr()
    status = convert_main([*args, "--dataset", DATASET, *TINY])
    return status, capsys.readouterr().err


def assert_one_paragraph(status, stderr, *phrases):
    """Exit status 2 and an ``error:`` paragraph (the last line of stderr, after any log lines) with ``phrases``."""
    assert status == 2, stderr
    assert "Traceback" not in stderr
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("error: "), stderr
    for phrase in phrases:
        assert phrase in error, (phrase, error)


def run_in_child(code, *args, cwd):
    """Run ``code`` with ``args`` in a new Python process; return it after it ended (killed or not)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def live_process():
    """A process that runs for the whole test (its temporary folders must survive cleanup)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield child.pid
    child.kill()
    child.wait()


def dead_pid():
    """The id of a process that has ended (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not atomic.pid_running(child.pid)
    return child.pid


# ============================================================================ 1-3. settings (checked in the pipeline)


def run_main(monkeypatch, capsys, *args):
    """``run_recbole_outfit.py ARGS`` in this process: (status, stderr). ``sys.argv`` holds other arguments,
    which must not be read."""
    from recbole_outfit.cli import main

    monkeypatch.setattr(sys, "argv", ["run_recbole_outfit.py", "--epochs=not-these"])
    capsys.readouterr()
    status = main(list(args))
    return status, capsys.readouterr().err


def tiny_args(workspace, run_dir, given=(), **overrides):
    """The tiny test settings as ``--key=value``, except the keys of the ``given`` arguments."""
    from conftest import tiny_config

    keys = {arg[2:].split("=")[0] for arg in given}
    return [f"--{k}={v}" for k, v in tiny_config(workspace, run_dir, **overrides).items() if k not in keys]


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test if anything trains (the settings must be refused before)."""
    from recbole.trainer import Trainer

    def fit(*args, **kwargs):
        raise AssertionError("training started before the settings were checked")

    monkeypatch.setattr(Trainer, "fit", fit)


@pytest.mark.parametrize("given, phrases", [
    # 1. a misspelt key, on the command line
    (["--learnin_rate=0.1"], ["--learnin_rate=... on the command line", "unknown setting 'learnin_rate'",
                              "Did you mean 'learning_rate'?", "extra_keys"]),
    # 2. out-of-range values
    (["--epochs=-1"], ["epochs must be >= 1, got -1"]),
    (["--train_neg_hard_ratio=1.5"], ["train_neg_hard_ratio must be in [0, 1], got 1.5"]),
    (["--learning_rate=0"], ["learning_rate must be > 0"]),
    # 3. options of a student, refused before its teacher and autoencoder stages train
    (["--backbone=XXL"], ["backbone must be one of large, M, S, XS, got 'XXL'"]),
    (["--cl_augmentations=['erase','blur']"], ["cl_augmentations must be two of identity, erase, replace"]),
    (["--teacher_config={'epochs': 0}"], ["epochs must be >= 1, got 0"]),
    (["--autoencoder_config={'learnin_rate': 0.1}"], ["unknown setting 'learnin_rate'"]),
])
def test_bad_settings_are_refused_before_any_work(given, phrases, workspace, run_dir, monkeypatch, capsys,
                                                  no_training):
    status, stderr = run_main(monkeypatch, capsys, "--model=FNDCL", "--dataset=synthetic630", *given,
                              *tiny_args(workspace, run_dir, given))
    assert_one_paragraph(status, stderr, *phrases)
    assert not os.path.exists(run_dir / "saved" / "stages")


def test_misspelt_key_in_a_yaml_file_names_file_and_line(workspace, run_dir, monkeypatch, capsys, no_training):
    config = run_dir / "mine.yaml"
    config.write_text("epochs: 2\nlearnin_rate: 0.1\n")
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              f"--config_files={config}", *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, f"{config}, line 2", "unknown setting 'learnin_rate'", "'learning_rate'")


def test_a_key_passed_on_purpose_is_kept(workspace, run_dir):
    from recbole_outfit.config import Config

    config = Config("NPair", "synthetic630", config_dict={"data_path": str(workspace / "atomic"), "my_key": 3,
                                                          "extra_keys": ["my_key"]}, command_line=False)
    assert config["my_key"] == 3


def test_recbole_model_parameters_are_known(workspace):
    """RecBole's own models keep their parameters (from RecBole's model yamls)."""
    from recbole_outfit.config import Config

    config = Config("BPR", "synthetic630", config_dict={"data_path": str(workspace / "atomic"),
                                                        "embedding_size": 16}, command_line=False)
    assert config["embedding_size"] == 16


@pytest.mark.parametrize("content, phrases", [
    ("epochs: 2\nfoo: [1, 2\n", ["line 3", "not valid YAML"]),
    ("- just\n- a list\n", ["must hold 'key: value' lines"]),
])
def test_malformed_yaml_names_the_file(content, phrases, workspace, run_dir, monkeypatch, capsys, no_training):
    config = run_dir / "broken.yaml"
    config.write_text(content)
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              f"--config_files={config}", *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, str(config), *phrases)


def test_missing_config_file(workspace, run_dir, monkeypatch, capsys, no_training):
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              "--config_files=missing.yaml", *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, "config file 'missing.yaml' does not exist", "--config_files")


# ============================================================================ 4. one paragraph and exit 2


@pytest.fixture(params=["file in its place", "folder under a file", "read-only folder"])
def unwritable_out(request, tmp_path):
    """An output folder the converter cannot write into."""
    if request.param == "file in its place":
        out = tmp_path / "atomic"
        out.write_text("not a folder")
    elif request.param == "folder under a file":
        (tmp_path / "blocker").write_text("a file")
        out = tmp_path / "blocker" / "atomic"
    else:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        out = tmp_path / "atomic"
        out.mkdir()
        out.chmod(0o500)
    yield str(out)
    if request.param == "read-only folder":
        out.chmod(0o700)


def test_unwritable_converter_output_is_refused_before_any_tuple_is_read(tmp_path, unwritable_out, capsys,
                                                                        monkeypatch):
    root = fixture_root(tmp_path)

    def read_tuples(*args, **kwargs):
        raise AssertionError("tuples were read before the output folder was checked")

    monkeypatch.setattr(polyvore, "read_tuples", read_tuples)
    status, message = run_convert(capsys, "--src", root, "--out", unwritable_out)
    assert_one_paragraph(status, message, f"{unwritable_out}:", "cannot write the converted dataset",
                         "output folder", "--out", "permissions")


@pytest.mark.slow
def test_unwritable_data_path_of_a_training_run_exits_2(tmp_path):
    """The same through ``run_recbole_outfit.py``: the data folder is converted before training."""
    root = fixture_root(tmp_path)
    (tmp_path / "blocker").write_text("a file")
    out = tmp_path / "blocker" / "atomic"
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "run_recbole_outfit.py"), "--model=Pop", f"--dataset={DATASET}",
         f"--raw_path={root}", f"--data_path={out}", "--image_size=8", "--convert_workers=1", "--show_progress=False",
         "--state=WARNING", f"--checkpoint_dir={tmp_path / 'saved'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert_one_paragraph(done.returncode, done.stderr, str(out), "cannot write the converted dataset", "data_path")


def test_unwritable_synthetic_raw_path_is_refused_before_generating(tmp_path, monkeypatch):
    from recbole_outfit.data import synthetic
    from recbole_outfit.errors import ConfigError

    def generate(*args, **kwargs):
        raise AssertionError("generated before the folder was checked")

    monkeypatch.setattr(synthetic, "generate", generate)
    (tmp_path / "blocker").write_text("a file")
    with pytest.raises(ConfigError) as error:
        ensure_synthetic_root(str(tmp_path / "blocker" / "synthetic"), TINY_GENERATOR, ["tuples_32"])
    assert str(error.value).startswith("raw_path:") and str(tmp_path / "blocker") in str(error.value)
    assert "cannot write the synthetic Polyvore-U root" in str(error.value)


def test_not_enough_disk_for_the_image_store_is_refused_before_decoding(tmp_path, capsys, monkeypatch):
    root = fixture_root(tmp_path)
    out = str(tmp_path / "atomic")
    free = 10 * 2**20
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100 * free, 99 * free, free))

    def decode(*args, **kwargs):
        raise AssertionError("images were decoded before the free space was checked")

    monkeypatch.setattr(convert_module, "build_image_store", decode)
    status, message = run_convert(capsys, "--src", root, "--out", out)
    assert_one_paragraph(status, message, "not enough free disk space", "images of 8x8x3 bytes", out,
                         f"{free:,} bytes (0.01 GiB) free", "--image_size", "--out")
    # the fixture's garments x 8 x 8 x 3 bytes, the text files and the margin
    garments = int(message.split("space for ")[1].split(" images")[0])
    needed = int(message.split("it needs ")[1].split(" bytes")[0].replace(",", ""))
    assert 0 < garments <= 16
    assert needed > convert_module.store_bytes(garments, 8) + convert_module.DISK_MARGIN_BYTES
    assert os.listdir(out) == []  # nothing left behind

    # with enough space the same command converts
    monkeypatch.undo()
    status, message = run_convert(capsys, "--src", root, "--out", out)
    assert status == 0, message
    assert is_complete(os.path.join(out, DATASET), DATASET)


def test_converter_image_size_must_be_positive(tmp_path, capsys):
    root = fixture_root(tmp_path)
    capsys.readouterr()
    status = convert_main(["--src", root, "--dataset", DATASET, "--out", str(tmp_path / "atomic"), "--image_size=0"])
    assert_one_paragraph(status, capsys.readouterr().err, "--image_size:", "positive number of pixels, got 0")
    assert not os.path.exists(tmp_path / "atomic")


def test_disk_estimate_grows_with_the_square_of_the_image_size():
    rows = {"train": ([0] * 10, None, None)}
    small = convert_module.estimate_output_bytes(1000, 112, rows, 10)
    large = convert_module.estimate_output_bytes(1000, 224, rows, 10)
    assert large - small == 1000 * 3 * (224 ** 2 - 112 ** 2)


def test_truncated_checkpoint_is_one_paragraph(workspace, run_dir, monkeypatch, capsys, trained_npair):
    truncated = run_dir / "truncated.pth"
    with open(trained_npair["checkpoint"], "rb") as f:
        truncated.write_bytes(f.read()[:5000])
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              f"--checkpoint={truncated}", *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, str(truncated), "not a readable checkpoint", "truncated")


def test_unwritable_checkpoint_dir_is_refused_before_training(workspace, run_dir, monkeypatch, capsys, no_training):
    (run_dir / "blocker").write_text("a file")
    args = tiny_args(workspace, run_dir, checkpoint_dir=str(run_dir / "blocker" / "saved"))
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630", *args)
    assert_one_paragraph(status, stderr, "checkpoint_dir:", "cannot write to", "permissions")


@pytest.mark.parametrize("stage_name", ["teacher", "neighbours"])
def test_damaged_cached_stage_artifact_is_rebuilt_with_a_warning(stage_name, tmp_path, caplog):
    """A cached stage artifact is reused only when its checksum matches; a truncated one is removed (and so
    rebuilt by the stage) with a warning naming it."""
    from recbole_outfit.pipeline.stages import STAGES
    from recbole_outfit.verified import sign

    stage = STAGES[stage_name]
    path = str(tmp_path / "artifact.bin")
    with open(path, "wb") as f:
        f.write(b"x" * 4096)
    sign(path)
    assert stage.cached(path)
    with open(path, "r+b") as f:
        f.truncate(1000)
    caplog.set_level("WARNING")
    assert not stage.cached(path)
    assert f"the cached {path} does not match its checksum" in caplog.text and "rebuilding it" in caplog.text
    assert not os.path.exists(path) and not os.path.exists(path + ".sha256")


def test_truncated_neighbour_table_given_by_the_user_is_one_paragraph(tmp_path):
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.pipeline.stages import load_neighbour_table

    path = tmp_path / "table.npz"
    path.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ConfigError, match="not a readable neighbour table"):
        load_neighbour_table(str(path), None)


# ============================================================================ 5. leftovers


KILLED_CONVERTER = """
    import os, signal, sys
    from recbole_outfit.data import convert

    def build_image_store(names, source, size, store_path, **kwargs):
        with open(store_path, "wb") as f:
            f.write(b"half an image store")
        os.kill(os.getpid(), signal.SIGKILL)  # killed while decoding

    convert.build_image_store = build_image_store
    convert.convert(sys.argv[1], "polyvore630", out=sys.argv[2], image_size=8, workers=1, show_progress=False)
"""


@pytest.mark.slow
def test_killed_converter_leftover_is_removed_by_the_next_run(tmp_path, live_process, caplog):
    root = fixture_root(tmp_path)
    out = tmp_path / "atomic"
    child = run_in_child(KILLED_CONVERTER, root, out, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr
    leftovers = [name for name in os.listdir(out) if ".tmp-" in name]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{DATASET}.tmp-"), leftovers
    # a temporary folder of a process that still runs (a converter at work) is not touched
    running = out / f".{DATASET}.tmp-{live_process}"
    running.mkdir()
    other_dataset = out / f".polyvore519.tmp-{dead_pid()}"  # another dataset's: cleaned when that one is converted
    other_dataset.mkdir()

    caplog.set_level("INFO")
    final = convert(root, DATASET, out=str(out), image_size=8, workers=1, show_progress=False)
    assert is_complete(final, DATASET)
    assert sorted(os.listdir(out)) == sorted([DATASET, running.name, other_dataset.name])
    removal = [r.getMessage() for r in caplog.records if "Removed" in r.getMessage()]
    assert len(removal) == 1 and leftovers[0] in removal[0] and "no longer runs" in removal[0], removal


KILLED_GENERATOR = """
    import os, signal, sys
    from recbole_outfit.data import prepare, synthetic

    def generate(out, **kwargs):
        os.makedirs(os.path.join(out, "tuples_32"), exist_ok=True)
        with open(os.path.join(out, "tuples_32", "image_list_top"), "w") as f:
            f.write("half a file")
        os.kill(os.getpid(), signal.SIGKILL)  # killed while generating

    synthetic.generate = generate
    prepare.ensure_synthetic_root(sys.argv[1], {}, ["tuples_32"], show_progress=False)
"""


@pytest.mark.slow
def test_killed_generator_leftover_is_removed_by_the_next_run(tmp_path, live_process, caplog):
    root = tmp_path / "dataset_raw" / "synthetic"
    child = run_in_child(KILLED_GENERATOR, root, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr
    (leftover,) = root.parent.iterdir()
    assert leftover.name.startswith("synthetic.tmp-") and (leftover / "tuples_32").is_dir()
    running = root.parent / f"synthetic.tmp-{live_process}"
    running.mkdir()
    unrelated = root.parent / f"other.tmp-{dead_pid()}"  # not this root's: left alone
    unrelated.mkdir()

    caplog.set_level("INFO")
    ensure_synthetic_root(str(root), TINY_GENERATOR, ["tuples_32"], show_progress=False)
    assert (root / "synthetic.json").is_file() and (root / "tuples_32" / "tuples_test_posi").is_file()
    assert sorted(os.listdir(root.parent)) == sorted(["synthetic", running.name, unrelated.name])
    assert any("Removed" in r.getMessage() and leftover.name in r.getMessage() for r in caplog.records)


def test_converter_that_loses_the_publication_race_uses_the_winners_folder(tmp_path, monkeypatch, caplog):
    """Forced interleaving: another converter of the same inputs publishes between our check and our rename."""
    root = fixture_root(tmp_path)
    winner = convert(root, DATASET, out=str(tmp_path / "winner"), image_size=8, workers=1, show_progress=False)
    out = tmp_path / "atomic"
    final = out / DATASET
    real_rename = os.rename

    def rename(src, dst):
        if os.fspath(dst) == str(final) and not final.exists():
            shutil.copytree(winner, final)  # the other process wins here
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    caplog.set_level("INFO")
    result = convert(root, DATASET, out=str(out), image_size=8, workers=1, show_progress=False)
    monkeypatch.undo()
    assert result == str(final) and is_complete(str(final), DATASET)
    assert os.listdir(out) == [DATASET]  # our temporary folder is gone
    with open(atomic_paths(winner, DATASET)["manifest"]) as a, open(atomic_paths(str(final), DATASET)["manifest"]) as b:
        assert json.load(a) == json.load(b)  # the winner's folder, untouched
    assert any("published by another process" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_two_converters_started_together_both_finish(tmp_path):
    """Real processes, whatever the interleaving: both exit 0, one complete folder, no temporary folder left."""
    root = fixture_root(tmp_path)
    out = tmp_path / "atomic"
    command = [sys.executable, "-m", "recbole_outfit.data.convert", "--src", root, "--dataset", DATASET,
               "--out", str(out), *TINY]
    children = [subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for child in children:
        _, stderr = child.communicate(timeout=300)
        assert child.returncode == 0 and "Traceback" not in stderr, stderr
    assert os.listdir(out) == [DATASET] and is_complete(str(out / DATASET), DATASET)


def test_publication_race_with_an_incomplete_winner_publishes_ours(tmp_path, monkeypatch):
    """The other process's folder is not usable (not complete): ours replaces it."""
    tmp, final = tmp_path / ".out.tmp-1", tmp_path / "out"
    tmp.mkdir()
    (tmp / "manifest").write_text("ours")
    real_rename = os.rename
    raced = []

    def rename(src, dst):
        if os.fspath(dst) == str(final) and not raced:
            raced.append(True)
            final.mkdir()
            (final / "half").write_text("another process's half-written folder")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    assert atomic.publish_folder(str(tmp), str(final), lambda f: os.path.isfile(os.path.join(f, "manifest")), wait=0)
    monkeypatch.undo()
    assert os.listdir(final) == ["manifest"] and sorted(os.listdir(tmp_path)) == ["out"]


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "results.json"
    with atomic.atomic_write(path) as f:
        f.write('{"auc": 0.5}')
    with pytest.raises(RuntimeError):
        with atomic.atomic_write(path) as f:
            f.write('{"auc": 0.')
            raise RuntimeError("killed halfway")
    assert path.read_text() == '{"auc": 0.5}' and os.listdir(tmp_path) == ["results.json"]
    with atomic.atomic_write(path, "wb") as f:
        f.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert (path.stat().st_mode & 0o777) == (0o666 & ~_umask())  # like open(): not a private temp file


KILLED_WRITER = """
    import os, signal, sys
    from recbole_outfit.atomic import atomic_write

    with atomic_write(sys.argv[1]) as f:
        f.write("half of the new results")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # killed while writing
"""


@pytest.mark.slow
def test_killed_writer_leaves_the_old_file_and_a_temp_file_that_is_cleaned(tmp_path, live_process):
    path = tmp_path / "results.json"
    path.write_text("old results")
    child = run_in_child(KILLED_WRITER, path, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr
    (leftover,) = [p for p in tmp_path.iterdir() if p.name != "results.json"]
    assert leftover.name.startswith(".results.json.tmp-")
    running = tmp_path / f".results.json.tmp-{live_process}-0a1b2c3d"
    running.write_text("a writer at work")
    assert atomic.remove_stale_temp(str(tmp_path)) == [str(leftover)]
    assert path.read_text() == "old results" and sorted(os.listdir(tmp_path)) == [running.name, "results.json"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ============================================================================ 6. UTF-8 byte-order mark


@pytest.mark.parametrize("file", ["image_list_top", "tuples_train_posi"])
@pytest.mark.parametrize("skip_missing", [False, True])
def test_byte_order_mark_is_not_part_of_the_first_name(tmp_path, capsys, file, skip_missing):
    plain = fixture_root(tmp_path / "plain")
    status, message = run_convert(capsys, "--src", plain, "--out", str(tmp_path / "plain_atomic"))
    assert status == 0, message
    root = fixture_root(tmp_path / "bom")
    path = os.path.join(root, "tuples_630", file)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf" + data)  # as Windows Notepad saves "UTF-8"
    status, message = run_convert(capsys, "--src", root, "--out", str(tmp_path / "atomic"),
                                  *(["--skip_missing"] if skip_missing else []))
    assert status == 0, message
    with open(atomic_paths(str(tmp_path / "atomic" / DATASET), DATASET)["manifest"]) as f:
        manifest = json.load(f)
    assert manifest["missing_images"]["count"] == 0
    assert not any(manifest["missing_images"]["rows_dropped"].values())
    ours, theirs = (atomic_paths(str(tmp_path / folder / DATASET), DATASET) for folder in ("atomic", "plain_atomic"))
    for role in ("item", "garment", "train", "test", "test_hard"):
        with open(ours[role], "rb") as a, open(theirs[role], "rb") as b:
            assert a.read() == b.read(), role
    with open(ours["garment"], encoding="utf-8") as f:
        assert "\ufeff" not in f.read()


def test_byte_order_mark_inside_an_image_list_names_the_line(tmp_path, capsys):
    root = fixture_root(tmp_path)
    path = os.path.join(root, "tuples_630", "image_list_shoe")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    lines[2] = "\ufeff" + lines[2]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    status, message = run_convert(capsys, "--src", root, "--out", str(tmp_path / "atomic"))
    assert_one_paragraph(status, message, f"{path}, line 3", "byte-order mark")


# ============================================================================ 7. resume


@pytest.fixture
def trained_npair(workspace, tmp_path_factory, monkeypatch):
    """A tiny NPair run (1 epoch): its results, checkpoint included."""
    from conftest import tiny_config
    from recbole_outfit.quick_start import run_recbole_outfit

    folder = tmp_path_factory.mktemp("npair")
    monkeypatch.chdir(folder)
    return run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, folder))


class Killed(Exception):
    """Stands for the process being killed: raised by a hook right after an epoch's resume state is written."""


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics(workspace, tmp_path, monkeypatch):
    from conftest import tiny_config
    from recbole_outfit.quick_start import run_recbole_outfit
    from recbole_outfit.trainer.checkpointing import CheckpointMixin

    settings = {"epochs": 3, "stopping_step": 10}
    monkeypatch.chdir(tmp_path)
    whole = run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, tmp_path / "a", **settings))

    save = CheckpointMixin._save_resume_state

    def save_then_die(self, epoch, train_data):
        save(self, epoch, train_data)
        if epoch == 0:
            raise Killed()

    monkeypatch.setattr(CheckpointMixin, "_save_resume_state", save_then_die)
    config = tiny_config(workspace, tmp_path / "b", **settings)
    with pytest.raises(Killed):
        run_recbole_outfit("NPair", "synthetic630", config_dict=config)
    left = os.listdir(tmp_path / "b" / "saved" / "resume")
    assert len(left) == 1
    monkeypatch.setattr(CheckpointMixin, "_save_resume_state", save)
    resumed = run_recbole_outfit("NPair", "synthetic630", config_dict={**config, "resume": True})
    assert resumed["timing"]["epochs"] == 3 and whole["timing"]["epochs"] == 3
    assert resumed["test_result"] == whole["test_result"]
    assert resumed["best_valid_result"] == whole["best_valid_result"]
    assert os.listdir(tmp_path / "b" / "saved" / "resume") == []  # finished: nothing left to resume


@pytest.mark.slow
def test_a_fresh_run_replaces_an_interrupted_one(workspace, tmp_path, monkeypatch, caplog):
    from conftest import tiny_config
    from recbole_outfit.quick_start import run_recbole_outfit
    from recbole_outfit.trainer.checkpointing import CheckpointMixin

    monkeypatch.chdir(tmp_path)
    save = CheckpointMixin._save_resume_state

    def save_then_die(self, epoch, train_data):
        save(self, epoch, train_data)
        raise Killed()

    monkeypatch.setattr(CheckpointMixin, "_save_resume_state", save_then_die)
    config = tiny_config(workspace, tmp_path, epochs=2)
    with pytest.raises(Killed):
        run_recbole_outfit("NPair", "synthetic630", config_dict=config)
    partial = [f for f in os.listdir(tmp_path / "saved") if f.endswith(".pth")]
    assert len(partial) == 1  # the interrupted run's best checkpoint
    monkeypatch.setattr(CheckpointMixin, "_save_resume_state", save)
    caplog.set_level("WARNING")
    result = run_recbole_outfit("NPair", "synthetic630", config_dict=config)
    assert "An interrupted run of this configuration" in caplog.text
    assert not os.path.exists(tmp_path / "saved" / partial[0])
    assert os.listdir(tmp_path / "saved" / "resume") == [] and os.path.isfile(result["checkpoint"])


# ============================================================================ 8. checkpoints cannot run code


@pytest.mark.slow
def test_plugin_checkpoints_load_with_the_weights_only_loader(trained_npair):
    import torch

    checkpoint = torch.load(trained_npair["checkpoint"], weights_only=True)
    assert checkpoint["config"]["model"] == "NPair" and checkpoint["config"].model_class.__name__ == "NPair"


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_checkpoint_that_needs_unpickling_is_refused_unless_trusted(tmp_path, monkeypatch):
    import torch

    from recbole_outfit.checkpoint import load_checkpoint
    from recbole_outfit.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "evil.pth")
    torch.save({"config": _RunsCode(), "state_dict": {}}, path)
    with pytest.raises(ConfigError, match="--trust_checkpoint=True"):
        load_checkpoint(path)
    assert not os.path.exists(tmp_path / "pwned.txt")  # refused without running anything
    load_checkpoint(path, trust=True)  # the user's explicit choice
    assert os.path.exists(tmp_path / "pwned.txt")


@pytest.fixture
def recbole_quick_start():
    """RecBole's ``quick_start`` module for one test; forgotten afterwards (the plugin itself never imports it,
    which another test checks in the same process)."""
    before = set(sys.modules)
    import recbole.quick_start

    yield recbole.quick_start
    for name in set(sys.modules) - before:
        if name.startswith("recbole.quick_start"):
            del sys.modules[name]


@pytest.mark.slow
def test_recboles_load_data_and_model_refuses_even_recboles_own_model_trained_through_the_plugin(
        workspace, tmp_path, monkeypatch, recbole_quick_start):
    """RecBole's own ``load_data_and_model`` on a checkpoint of RecBole's BPR trained through the plugin: its data
    is the plugin's outfit dataset, which RecBole's ``create_dataset`` cannot build, so it is refused at once with
    the plugin's function to call (which loads the same file)."""
    from conftest import tiny_config
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.quick_start import load_data_and_model, run_recbole_outfit

    monkeypatch.chdir(tmp_path)
    result = run_recbole_outfit("BPR", "synthetic630", config_dict=tiny_config(workspace, tmp_path))
    with pytest.raises(ConfigError, match="recbole_outfit.quick_start.load_data_and_model"):
        recbole_quick_start.load_data_and_model(result["checkpoint"])
    config, model, *_ = load_data_and_model(result["checkpoint"])
    assert type(model).__name__ == "BPR" and config["dataset"] == "synthetic630"


@pytest.mark.slow
def test_plugin_load_data_and_model_rebuilds_a_plugin_model(trained_npair):
    from recbole_outfit.quick_start import load_data_and_model

    config, model, *_ = load_data_and_model(trained_npair["checkpoint"])
    assert type(model).__name__ == "NPair" and not model.training


# ============================================================================ 9. narrow compatibility


@pytest.mark.slow
def test_importing_the_plugin_changes_no_warning_filter_and_sets_no_numpy_alias(tmp_path):
    done = run_in_child("""
        import warnings
        import numpy as np
        # what the plugin imports installs its own filters (torch, scipy): those are not the plugin's
        import torch, torchvision, scipy.sparse, pandas, recbole.config, recbole.data, recbole.trainer
        import recbole.evaluator, recbole.model.abstract_recommender
        before = list(warnings.filters)
        import recbole_outfit, recbole_outfit.quick_start
        assert list(warnings.filters) == before, "a process-wide warning filter was installed"
        assert not hasattr(np, "float"), "numpy aliases were set at import"
        from recbole_outfit.config import Config
        Config("NPair", "synthetic630", config_dict={"data_path": "unused/"}, command_line=False)
        assert np.float is np.float64  # set when RecBole would set them: when a Config is built
        print("ok")
    """, cwd=tmp_path)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr
