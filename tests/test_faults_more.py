"""Faults of issue 24: runs side by side, killed generators, damaged checkpoints and image stores, checkpoints
that do not fit, empty splits, output paths, a full disk and a missing GPU. Each test feeds the exact bad input
(or stops a process at a chosen point, by a hook, not a timer) and checks what the user sees."""

import errno
import json
import multiprocessing
import os
import signal
import sys
import time
import zipfile

import pytest
import torch

from polyvore_fixture import write_csv
from test_faults import (DATASET, TINY, assert_one_paragraph, fixture_root, no_training, run_convert,  # noqa: F401
                         run_in_child, run_main, tiny_args)
from recbole_outfit.checkpoint import load_checkpoint
from recbole_outfit.data import polyvore
from recbole_outfit.data.convert import atomic_paths, convert
from recbole_outfit.data.image_store import ImageStore
from recbole_outfit.data.prepare import ensure_atomic_dataset, ensure_synthetic_root
from recbole_outfit.errors import ConfigError, DataFormatError
from recbole_outfit.exclusive import fcntl

# Runs that train start fresh interpreters: a child forked from a pytest process whose earlier tests started
# torch's and other libraries' threads can block for ever on a lock one of those threads held at the fork.
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def npair_checkpoint(workspace, tmp_path_factory):
    """The best checkpoint of a tiny NPair run (1 epoch) on the shared tiny synthetic630."""
    from conftest import tiny_config
    from recbole_outfit.quick_start import run_recbole_outfit

    folder = tmp_path_factory.mktemp("npair-more")
    saved = os.getcwd()
    os.chdir(folder)
    try:
        result = run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, folder),
                                    command_line=False)
    finally:
        os.chdir(saved)
    return result["checkpoint"]


def flip_a_weight_byte(path, out):
    """Copy ``path`` to ``out`` with one byte in the middle of its largest tensor changed (the weights, not the
    zip's headers or the pickle, which a loader would already refuse)."""
    with zipfile.ZipFile(path) as archive:
        largest = max(archive.infolist(), key=lambda info: info.file_size)
    data = bytearray(open(path, "rb").read())
    start = largest.header_offset
    name_length = int.from_bytes(data[start + 26:start + 28], "little")
    extra_length = int.from_bytes(data[start + 28:start + 30], "little")
    middle = start + 30 + name_length + extra_length + largest.file_size // 2
    data[middle] ^= 0x5A
    open(out, "wb").write(bytes(data))
    return out


# ============================================================================ 1. runs side by side


def a_run_of(workspace, folder, marker, hold_first):
    """One tiny NPair run of the shared configuration in ``folder``'s saved/ (a child process's body).

    ``hold_first``: after writing its first resume state, wait (up to 120 s) until the other run either waits for
    this one (its ``lock_holder`` call) or passed ``set_up_resume`` (where today's code removed this run's
    files), then check that its own best checkpoint and resume state are still there."""
    from conftest import tiny_config
    from recbole_outfit import exclusive
    from recbole_outfit.pipeline import run as pipeline_run
    from recbole_outfit.quick_start import run_recbole_outfit
    from recbole_outfit.trainer.checkpointing import CheckpointMixin

    sys.argv = ["pytest"]
    os.chdir(folder)
    save = CheckpointMixin._save_resume_state
    holder, set_up = exclusive.lock_holder, pipeline_run.set_up_resume

    def waiting_for_the_other(lock_file):  # called only when the lock is held by another process
        open(marker, "a").close()
        return holder(lock_file)

    def set_up_and_tell(config, trainer):
        path = set_up(config, trainer)
        open(marker, "a").close()
        return path

    def save_then_hold(self, epoch, train_data):
        save(self, epoch, train_data)
        if epoch == 0:
            open(marker + ".first", "a").close()
            for _ in range(1200):
                if os.path.exists(marker):
                    break
                time.sleep(0.1)
            intact = os.path.isfile(self.saved_model_file) and os.path.isfile(self.resume_file)
            with open(marker + ".intact", "w") as f:
                f.write(str(intact))

    if hold_first:
        CheckpointMixin._save_resume_state = save_then_hold
    else:
        exclusive.lock_holder = waiting_for_the_other
        pipeline_run.set_up_resume = set_up_and_tell
    config = tiny_config(workspace, workspace / "side-by-side", epochs=2, stopping_step=10)
    run_recbole_outfit("NPair", "synthetic630", config_dict=config, command_line=False)


@pytest.mark.slow
@pytest.mark.skipif(fcntl is None, reason="no fcntl (Windows): no lock between runs")
def test_two_identical_runs_side_by_side_keep_each_others_files(workspace, tmp_path, npair_checkpoint):
    """(``npair_checkpoint`` only makes sure the tiny data is converted before the two runs start.)"""
    marker = str(tmp_path / "second-arrived")
    first = SPAWN.Process(target=a_run_of, args=(workspace, tmp_path, marker, True))
    first.start()
    for _ in range(3000):  # the first run has written its first resume state and best checkpoint
        if os.path.exists(marker + ".first") or not first.is_alive():
            break
        time.sleep(0.1)
    second = SPAWN.Process(target=a_run_of, args=(workspace, tmp_path, marker, False))
    second.start()
    first.join(600)
    second.join(600)
    assert first.exitcode == 0 and second.exitcode == 0
    assert open(marker + ".intact").read() == "True"  # the second run removed none of the live run's files
    saved = workspace / "side-by-side" / "saved"
    results = [os.path.join(saved, "results", name) for name in os.listdir(saved / "results")]
    assert len(results) == 2
    for path in results:
        with open(path) as f:
            result = json.load(f)
        assert os.path.isfile(result["checkpoint"])  # each run's best checkpoint is still there
    assert os.listdir(saved / "resume") == []


# ============================================================================ 2. a killed standalone generator


KILLED_STANDALONE_GENERATOR = """
    import os, signal, sys
    from recbole_outfit.data import synthetic

    def killed(*args, **kwargs):  # the tuples files of the new seed are written; the images are next
        os.kill(os.getpid(), signal.SIGKILL)

    synthetic.render_images = killed
    synthetic.main(["--out", sys.argv[1], "--seed", "4", "--scale", "0.1", "--image_px", "32",
                    "--folders", "tuples_630", "--workers", "1"])
"""


def test_a_killed_standalone_generator_leaves_the_old_root_as_it_was(tmp_path):
    options = {"seed": 3, "scale": 0.1, "garment_scale": None, "difficulty": 0.5, "image_px": 32}
    root = tmp_path / "raw"
    ensure_synthetic_root(str(root), options, ["tuples_630"], show_progress=False)
    train = root / "tuples_630" / "tuples_train_posi"
    before = train.read_bytes()
    child = run_in_child(KILLED_STANDALONE_GENERATOR, root, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert train.read_bytes() == before  # seed 4's tuples never landed beside seed 3's summary
    # the next run finds the seed-3 root whole (and removes the killed generator's temporary root)
    ensure_synthetic_root(str(root), options, ["tuples_630"], show_progress=False)
    assert train.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["raw"]


def test_the_standalone_generator_publishes_a_complete_root(tmp_path):
    from recbole_outfit.data import synthetic

    root = tmp_path / "raw"
    assert synthetic.main(["--out", str(root), "--seed", "4", "--scale", "0.1", "--image_px", "32",
                           "--folders", "tuples_630", "--workers", "1"]) == 0
    assert (root / "synthetic.json").is_file() and (root / "tuples_630" / "tuples_train_posi").is_file()
    assert sorted(os.listdir(tmp_path)) == ["raw"]


# ============================================================================ 3-4. damaged image stores


@pytest.fixture
def converted(tmp_path):
    """(raw root, converted folder) of the hand-written Polyvore-U fixture."""
    root = fixture_root(tmp_path)
    out = str(tmp_path / "atomic")
    folder = convert(root, DATASET, out=out, image_size=8, workers=1, show_progress=False)
    return root, folder


def damaged(folder, dataset):
    from recbole_outfit.data.convert import damaged as damaged_files

    return damaged_files(folder, dataset)


def store_of(folder):
    return atomic_paths(folder, DATASET)["images"]


def run_config(folder, raw):
    return {"data_path": folder, "dataset": DATASET, "raw_path": raw, "show_progress": False, "synthetic": False,
            "image_size": 8, "raw_folder": None, "convert_workers": 1}


def test_a_truncated_image_store_is_named_and_converted_again(converted, caplog):
    root, folder = converted
    store = store_of(folder)
    size = os.path.getsize(store)
    with open(store, "r+b") as f:
        f.truncate(size - 100)
    with pytest.raises(DataFormatError) as error:  # opened directly: named, not numpy's mmap ValueError
        ImageStore(store)
    assert "truncated" in str(error.value) and store in str(error.value)
    assert damaged(folder, DATASET) == [(store, f"is {size - 100:,} bytes, {size:,} when it was written "
                                                f"(truncated or cut short)")]
    caplog.set_level("INFO")
    convert(root, DATASET, out=os.path.dirname(folder), image_size=8, workers=1, show_progress=False)
    assert "nothing to do" not in caplog.text
    assert "damaged" in caplog.text and "truncated" in caplog.text
    assert os.path.getsize(store) == size and damaged(folder, DATASET) == []


def test_a_flipped_byte_in_the_image_store_is_detected_before_use(converted, caplog):
    root, folder = converted
    store = store_of(folder)
    with open(store, "r+b") as f:
        f.seek(os.path.getsize(store) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    # without the raw files: refused with the command that rebuilds it
    with pytest.raises(ConfigError) as error:
        ensure_atomic_dataset(run_config(folder, None))
    message = str(error.value)
    assert store in message and "checksum" in message and "--force" in message
    # with them (a run that converts its own data): converted again
    caplog.set_level("WARNING")
    ensure_atomic_dataset(run_config(folder, root))
    assert "damaged" in caplog.text and damaged(folder, DATASET) == []


def test_an_unchanged_image_store_is_not_read_again(converted, monkeypatch):
    """The store's checksum is computed once; an unchanged file is checked by size and stat only."""
    from recbole_outfit.data import integrity

    _, folder = converted
    read = []
    digest = integrity.file_digest
    monkeypatch.setattr(integrity, "file_digest", lambda path: read.append(path) or digest(path))
    assert damaged(folder, DATASET) == []
    assert store_of(folder) not in read and len(read) == len(atomic_paths(folder, DATASET)) - 2
    os.utime(store_of(folder))  # written (its times moved): read in full once more
    assert damaged(folder, DATASET) == [] and store_of(folder) in read


# ============================================================================ 3. damaged checkpoints


def test_a_flipped_byte_in_a_checkpoint_is_detected_before_use(npair_checkpoint, tmp_path, workspace, run_dir,
                                                               monkeypatch, capsys):
    damaged_file = flip_a_weight_byte(npair_checkpoint, str(tmp_path / "flipped.pth"))
    with pytest.raises(ConfigError) as error:
        load_checkpoint(damaged_file)
    assert "damaged" in str(error.value) and "checksum" in str(error.value)
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              f"--checkpoint={damaged_file}", *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, damaged_file, "is damaged")
    load_checkpoint(npair_checkpoint)  # the intact file loads


# ============================================================================ 5. checkpoints that do not fit


def test_a_checkpoint_whose_weights_do_not_fit_the_dataset_is_refused(npair_checkpoint, tmp_path, workspace,
                                                                      run_dir, monkeypatch, capsys):
    state = load_checkpoint(npair_checkpoint)
    weights = state["state_dict"]["user_embedding.weight"]
    state["state_dict"]["user_embedding.weight"] = torch.cat([weights, weights[:3]])  # 3 users too many
    state.pop("checksum", None)  # an edited file without one loads unverified (as RecBole's own files do)
    other = str(tmp_path / "other-users.pth")
    torch.save(state, other)
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              f"--checkpoint={other}", *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, other, "does not fit NPair", "user_embedding.weight")


def test_a_checkpoint_of_another_dataset_says_which_dataset_it_is_tested_on(npair_checkpoint, workspace, run_dir,
                                                                           monkeypatch, capsys, caplog):
    caplog.set_level("WARNING")
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic519",
                              f"--checkpoint={npair_checkpoint}", *tiny_args(workspace, run_dir))
    assert status == 0, stderr
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("trained with dataset synthetic630, not synthetic519: testing NPair on synthetic630" in w
               for w in warnings), warnings


# ============================================================================ 6. empty splits


def test_a_train_split_with_a_header_and_no_rows_is_refused_at_conversion(tmp_path, capsys):
    root = fixture_root(tmp_path)
    path = polyvore.tuple_path(os.path.join(root, "tuples_630"), "train", "posi")
    header = open(path).readline().strip().split(",")
    write_csv(path, header, [])
    status, stderr = run_convert(capsys, "--src", root, "--out", str(tmp_path / "atomic"))
    assert_one_paragraph(status, stderr, path, "holds no outfits")
    assert not os.path.exists(tmp_path / "atomic" / DATASET)


# ============================================================================ 7. output paths


def test_results_json_that_is_a_folder_is_refused_before_training(workspace, run_dir, monkeypatch, capsys,
                                                                  no_training):
    folder = run_dir / "results-folder"
    folder.mkdir()
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              f"--results_json={folder}", *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, "results_json:", str(folder), "is a folder")


@pytest.mark.parametrize("option", ["--json", "--out"])
@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_recommend_outputs_are_checked_before_the_model_loads(option, where, tmp_path, monkeypatch, capsys):
    from recbole_outfit.recommend import __main__ as recommend

    def load(*args, **kwargs):
        raise AssertionError("the model was loaded before the output path was checked")

    monkeypatch.setattr(recommend, "load_recommender", load)
    if where == "a folder":
        target = tmp_path / "out"
        target.mkdir()
        phrase = "is a folder"
    else:
        (tmp_path / "blocker").write_text("a file")
        target = tmp_path / "blocker" / "out.json"
        phrase = f"the folder {tmp_path / 'blocker'}"
    (tmp_path / "x.pth").write_bytes(b"never loaded")
    capsys.readouterr()
    status = recommend.main(["--checkpoint", str(tmp_path / "x.pth"), "--user", "1", option, str(target)])
    assert_one_paragraph(status, capsys.readouterr().err, f"{option}:", phrase)


# ============================================================================ 9. a full disk


@pytest.mark.slow
def test_a_full_disk_while_a_checkpoint_is_saved_is_one_paragraph(workspace, run_dir, monkeypatch, capsys):
    save = torch.save

    def disk_fills_up(obj, f, *args, **kwargs):
        if hasattr(f, "write"):
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_fills_up)
    status, stderr = run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630",
                              *tiny_args(workspace, run_dir))
    assert_one_paragraph(status, stderr, "checkpoint_dir:", "is full", "partial file was removed")
    saved = run_dir / "saved"
    left = [name for name in os.listdir(saved) if name.endswith(".pth") or ".tmp-" in name]
    assert left == []
    assert [name for name in os.listdir(saved / "resume") if ".tmp-" in name] == []


# ============================================================================ 12. a GPU the machine lacks


def test_a_gpu_id_naming_a_missing_gpu_is_warned_about_once(caplog):
    from recbole_outfit.pipeline import preflight

    caplog.set_level("WARNING")
    cpu = torch.device("cpu")
    config = {"use_gpu": True, "gpu_id": "7", "device": cpu}
    text = preflight.check_device(config, gpu_count=1)
    assert "gpu_id=7 names no GPU of this machine (it has 1 GPU (0))" in text and "on the CPU" in text
    assert preflight.check_device(config, gpu_count=1) is None  # said once
    assert preflight.check_device({**config, "gpu_id": "6"}, gpu_count=0).startswith("gpu_id=6 asks for a GPU")
    assert preflight.check_device({**config, "gpu_id": "0"}, gpu_count=0) is None  # RecBole's default on a CPU box
    assert preflight.check_device({**config, "gpu_id": ""}, gpu_count=0) is None  # asked for the CPU
    assert caplog.text.count("gpu_id=7") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA may already be set up in this process")
def test_a_run_with_a_missing_gpu_says_so(workspace, run_dir, monkeypatch, capsys, caplog, no_training):
    caplog.set_level("WARNING")
    with pytest.raises(AssertionError, match="training started"):
        run_main(monkeypatch, capsys, "--model=NPair", "--dataset=synthetic630", "--gpu_id=5",
                 *tiny_args(workspace, run_dir))
    assert "gpu_id=5" in caplog.text and "trains on the CPU" in caplog.text
