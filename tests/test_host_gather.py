"""The image store's host path: pinned reads, the background prefetch and the read-ahead of training batches."""

import numpy as np
import pytest
import torch

from conftest import tiny_config
from recbole_outfit.data.host_gather import PENDING_LIMIT, HostGather
from recbole_outfit.data.image_store import ImageStore
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.trainer.lookahead import Lookahead


def store_array(rows=50, side=4):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(rows, 3, side, side), dtype=np.uint8)


def test_gather_reads_the_asked_rows_with_and_without_prefetch():
    array = store_array()
    host = HostGather(array, prefetch=True)
    first, second = np.array([3, 1, 40]), np.array([7, 7, 0, 49])
    host.prefetch(second, "cpu")
    assert torch.equal(host.gather(first, "cpu"), torch.from_numpy(array[first]))  # not the prefetched rows
    assert len(host._pending) == 1  # the prefetch of other rows waits for its own gather
    assert torch.equal(host.gather(second, "cpu"), torch.from_numpy(array[second]))  # taken from the prefetch
    assert not host._pending
    host.close()


def test_a_prefetch_not_asked_for_is_dropped_beyond_the_limit():
    array = store_array()
    host = HostGather(array, prefetch=True)
    for start in range(PENDING_LIMIT + 3):
        host.prefetch(np.array([start, start + 1]), "cpu")
    assert len(host._pending) == PENDING_LIMIT
    newest = np.array([PENDING_LIMIT + 2, PENDING_LIMIT + 3])
    assert torch.equal(host.gather(newest, "cpu"), torch.from_numpy(array[newest]))
    host.close()


def test_disabled_prefetch_starts_no_thread():
    host = HostGather(store_array(), prefetch=False)
    host.prefetch(np.array([1, 2]), "cpu")
    assert host._executor is None and not host._pending


def test_gpu_budget_decides_the_auto_placement(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, store_array(rows=1024, side=8))  # 196,608 bytes
    nbytes = 1024 * 3 * 8 * 8
    assert ImageStore(str(path)).fits_gpu(free_bytes=2 * nbytes)  # default: half of the free memory
    assert not ImageStore(str(path)).fits_gpu(free_bytes=2 * nbytes - 2)
    assert not ImageStore(str(path), gpu_budget=0).fits_gpu(free_bytes=2**40)  # 0: always the host path
    assert ImageStore(str(path), gpu_budget=nbytes / 2**30).fits_gpu(free_bytes=0)


def test_lookahead_hands_out_the_same_batches_and_announces_each_one_step_early():
    announced, seen = [], []
    for batch in Lookahead([1, 2, 3], announced.append):
        seen.append((batch, list(announced)))
    assert [b for b, _ in seen] == [1, 2, 3]
    assert seen[0][1] == [2] and seen[1][1] == [2, 3] and seen[2][1] == [2, 3]
    assert list(Lookahead([], announced.append)) == [] and len(Lookahead([4, 5], None)) == 2


@pytest.mark.slow
def test_training_with_read_ahead_gives_the_same_run(workspace, run_dir):
    """The host path with prefetch (training batches read ahead, scoring chunks read ahead) learns and scores
    exactly as without it."""
    results = [run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(
        workspace, run_dir, epochs=2, image_prefetch=prefetch, garment_batch_size=16, image_store_place="cpu",
        checkpoint_dir=str(run_dir / f"saved-{prefetch}"))) for prefetch in (True, False)]
    assert results[0]["test_result"] == results[1]["test_result"]
    assert results[0]["best_valid_result"] == results[1]["best_valid_result"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="the device path needs CUDA")
def test_host_path_scores_as_the_device_path(workspace, run_dir):
    """A store forced off the GPU (gpu_store_budget: 0, pinned reads, read ahead) scores as the store on it."""
    results = [run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(
        workspace, run_dir, image_store_place="auto", gpu_store_budget=budget, use_gpu=True, seed=7,
        checkpoint_dir=str(run_dir / f"saved-{budget}"))) for budget in (None, 0)]
    for metric in ("user_auc", "user_ndcg"):
        assert results[0]["test_result"][metric] == pytest.approx(results[1]["test_result"][metric], abs=1e-6)
