"""Polyvore scale: loading, training steps, full test scoring and memory, with and without the speed paths.

    python -m recbole_outfit.benchmarks.scale --dataset=synthetic630full [--steps 20] [--rounds 2]
        [--model NPair] [--load_repeats 1] [--score_repeats 1] [--amp_dataset synthetic630] [--amp_epochs 10]
        [--only load|compute] [--out results] [--key=value ...]    (any other config setting, as on the main
        command line)

Each figure is measured for the plain path and the fast path, in the same run:

* **dataset load** (``create_dataset`` + ``data_preparation``, the fixed cost before a run's first step):
  RecBole's atomic-file reader (``fast_loader: False``), the plugin's (``fast_loader: True``) and the
  plugin's verified dataset cache (``dataset_cache: True``; a first, untimed process builds it when it is
  missing), each in a fresh process (so each starts cold and its peak resident memory is its own),
  alternating;
* **training step** of ``--model`` (seconds per step, data sampling and image gather included, and the
  epoch extrapolated from it): contiguous convolutions (``channels_last: False``) against channels-last,
  and on CUDA channels-last with mixed precision (``enable_amp: True``), alternating in ``--rounds``;
* **full test scoring** (every labeled test row, cached garment features): the same variants;
* **resident memory**: the peak of each phase, and during scoring the anonymous and the file-backed
  resident memory separately: the image store is memory-mapped, so the store's pages a pass touches are
  file-backed page cache (the kernel can drop them under pressure) and do not grow with the store's size;
* on CUDA with ``--amp_dataset``: a full training run with and without ``enable_amp`` and its test metrics.

Writes ``<out>/scale-<dataset>.md`` and ``.json``. ``--only load`` (or ``compute``) measures that part alone
and keeps the other tables, with the command that measured them, from the ``.json`` already in ``<out>``.
"""

import argparse
import json
import logging
import mmap
import multiprocessing
import os
import re
import resource
import shlex
import sys
import threading
import time

import numpy as np
import psutil
import torch
from recbole.utils import init_seed

from recbole_outfit.atomic import atomic_write
from recbole_outfit.benchmarks.bare_encoder import bare_scoring, bare_steps, scored_garments_of
from recbole_outfit.benchmarks.efficiency import PeakMemory, score_all, time_scoring, time_steps
from recbole_outfit.config import Config
from recbole_outfit.data.dataset_cache import cache_path
from recbole_outfit.data.prepare import ensure_atomic_dataset
from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.report import command_text, format_table, machine_description, write_json_atomic
from recbole_outfit.trainer.mixed_precision import amp_dtype, autocast
from recbole_outfit.utils import create_dataset, data_preparation, get_model

PAPER_SCORING_SECONDS = 74.1  # paper Table 5: XS scoring every Polyvore-630 test candidate, one P100 GPU
LOAD_VARIANTS = [("RecBole's reader", {"fast_loader": False, "dataset_cache": False}),
                 ("fast loader", {"fast_loader": True, "dataset_cache": False}),
                 ("fast loader, cached", {"fast_loader": True, "dataset_cache": True})]
CACHED = LOAD_VARIANTS[2][0]
DEFAULT_VARIANT = "channels-last"  # the configuration's defaults: the variant held against the bare encoder
SCORING_GOAL, STEP_GOAL = 0.9, 1.1  # full scoring >= 0.9x the bare encoder's garments / s; a step <= 1.1x its time


def compute_variants(cuda):
    """(name, settings) of the training / scoring variants this device has: AMP only on CUDA."""
    variants = [("contiguous", {"channels_last": False, "enable_amp": False}),
                ("channels-last", {"channels_last": True, "enable_amp": False})]
    if cuda:
        variants.append(("channels-last + AMP", {"channels_last": True, "enable_amp": True}))
    return variants


class ResidentMemory:
    """Peak anonymous and file-backed resident memory of this process during a block (Linux
    ``/proc/self/status`` ``RssAnon`` / ``RssFile``, sampled every 20 ms); zeros where not available."""

    def __init__(self):
        self.peak = {"anon": 0, "file": 0}
        self.start = self.read()

    @staticmethod
    def read():
        values = {"anon": 0, "file": 0}
        try:
            with open("/proc/self/status", "r", encoding="ascii") as f:
                for line in f:
                    if line.startswith(("RssAnon:", "RssFile:")):
                        key = "anon" if line.startswith("RssAnon") else "file"
                        values[key] = int(line.split()[1]) * 1024
        except OSError:
            pass
        return values

    def __enter__(self):
        self.start = self.read()
        self.peak = dict(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self._update()

    def _update(self):
        now = self.read()
        self.peak = {k: max(self.peak[k], now[k]) for k in now}

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._update()
        return False


# ------------------------------------------------------------------------------------------------- loading


def _load_in_fresh_process(queue, model, dataset, overrides, threads):
    """(In a spawned process.) Time ``create_dataset`` and ``data_preparation``; put seconds and memory on
    ``queue`` (or the error's text)."""
    try:
        queue.put(_load_timed(model, dataset, overrides, threads))
    except BaseException as error:  # reported by the parent
        queue.put({"error": f"{type(error).__name__}: {error}"})


def _load_timed(model, dataset, overrides, threads):
    torch.set_num_threads(threads)
    logging.disable(logging.WARNING)
    config = Config(model, dataset, config_dict=overrides, command_line=False)
    cache = cache_path(config)
    cache_before = os.stat(cache).st_mtime_ns if os.path.exists(cache) else None
    before = psutil.Process().memory_info().rss
    started, cpu_started = time.perf_counter(), time.process_time()
    data = create_dataset(config)
    loaded = time.perf_counter()
    data_preparation(config, data)
    done, cpu_done = time.perf_counter(), time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    built = config["dataset_cache"] and (not os.path.exists(cache) or os.stat(cache).st_mtime_ns != cache_before)
    return {"create_dataset": loaded - started, "data_preparation": done - loaded, "total": done - started,
            "cpu": cpu_done - cpu_started, "rss_before": before, "peak_rss": peak, "cache_built": bool(built)}


def load_in_fresh_process(model, dataset, settings, name):
    """Timings of one load (``_load_timed``) in a spawned process; logged."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_load_in_fresh_process, args=(queue, model, dataset, settings,
                                                                  torch.get_num_threads()))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        raise RuntimeError(f"loading {dataset} with the {name} failed: {result['error']}")
    logging.getLogger().info(f"load, {name}: create_dataset {result['create_dataset']:.1f}s + data_preparation "
                             f"{result['data_preparation']:.1f}s (CPU {result['cpu']:.1f}s), peak RSS "
                             f"{result['peak_rss'] / 2**30:.2f} GiB{', cache built' if result['cache_built'] else ''}")
    return result


def loading_benchmark(model, dataset, overrides, repeats):
    """Each loader ``repeats`` times, alternating, each run in a fresh process; first, untimed in the table,
    one load that builds the dataset cache when it is missing (its timing is kept under ``"cache build"``)."""
    cached_settings = {**overrides, **dict(LOAD_VARIANTS)[CACHED]}
    runs = {"cache build": [load_in_fresh_process(model, dataset, cached_settings, "first load with the cache")]}
    runs.update({name: [] for name, _ in LOAD_VARIANTS})
    for _ in range(repeats):
        for name, settings in LOAD_VARIANTS:
            result = load_in_fresh_process(model, dataset, {**overrides, **settings}, name)
            if name == CACHED and result["cache_built"]:
                raise RuntimeError(f"the {name} run built the dataset cache instead of using it: something "
                                   "changed the dataset between the first load and this one")
            runs[name].append(result)
    return runs


# ------------------------------------------------------------------------------------------------- compute


def _build(model_name, dataset, settings, overrides):
    config = Config(model_name, dataset.dataset_name, config_dict={**overrides, **settings}, command_line=False)
    init_seed(config["seed"], True)
    return config, get_model(model_name)(config, dataset).to(config["device"])


def warm_page_cache(path, chunk=64 * 2**20):
    """Read a file once through ordinary reads (not the memory map), so every variant scores from a warm
    page cache and none pays the first disk reads; this process's mapping is not touched."""
    with open(path, "rb", buffering=0) as f:
        buffer = bytearray(chunk)
        while f.readinto(buffer):
            pass


def drop_store_pages(store):
    """Evict the image store's pages from this process's mapping and from the page cache (Linux), so the next
    reads come from the disk: what every pass meets when the stores are larger than the memory."""
    mapping = getattr(store.array, "_mmap", None)
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)
    if hasattr(os, "posix_fadvise"):
        descriptor = os.open(store.path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def cold_store_figures(model, train_data, test_loader, device, steps):
    """The default variant's scoring pass and training step with the store dropped from the page cache before
    each (every read from the disk), with and without reading ahead; the model's own setting is restored."""
    logger = logging.getLogger()
    host = model.images.host
    if model.images.on_device is not None:  # the store is on the GPU: the page cache plays no part
        return {}
    kept = host.prefetch_enabled
    figures = {}
    try:
        for ahead in (True, False):
            host.prefetch_enabled = ahead
            name = "read ahead" if ahead else "no read ahead"
            drop_store_pages(model.images)
            seconds, _, _, _ = time_scoring(model, test_loader, device, 1)
            step = time_steps(model, train_data, device, steps, warmup=1,
                              before_step=lambda: drop_store_pages(model.images))[0] if steps > 0 else None
            figures[name] = {"scoring_seconds": seconds, "step_seconds": step}
            logger.info(f"store not cached, {name}: scoring {seconds:.1f}s"
                        + (f", step {step * 1000:.0f} ms" if step else ""))
    finally:
        host.prefetch_enabled = kept
    return figures


def compute_benchmark(model_name, dataset_name, overrides, steps, rounds, score_repeats, cold_store=False):
    """Training-step and full-scoring timings of each variant, with memory; and the store's facts."""
    logger = logging.getLogger()
    base = Config(model_name, dataset_name, config_dict=overrides, command_line=False)
    device = base["device"]
    cuda = torch.device(device).type == "cuda"
    dataset = create_dataset(base)
    train_data, _, tests = data_preparation(base, dataset)
    test_loader = tests["test"]
    variants = compute_variants(cuda)
    built = {name: _build(model_name, train_data._dataset, settings, overrides) for name, settings in variants}
    dtypes = {name: amp_dtype(config, device) for name, (config, _) in built.items()}

    step_times = {name: [] for name, _ in variants}
    step_memory = {name: 0 for name, _ in variants}
    per_round = max(1, int(np.ceil(steps / rounds)))
    for round_index in range(rounds if steps > 0 else 0):
        for name, _ in variants:
            config, model = built[name]
            with PeakMemory(device) as memory, autocast(device, dtypes[name]):
                mean, _ = time_steps(model, train_data, device, per_round, warmup=2 if round_index == 0 else 1)
            step_times[name].append(mean)
            step_memory[name] = max(step_memory[name], memory.peak_bytes)
            logger.info(f"step, {name}, round {round_index + 1}: {mean * 1000:.0f} ms")

    store = dataset.image_store(place="cpu")
    scored_garments = scored_garments_of(dataset, test_loader)
    touched = len(scored_garments) * int(np.prod(store.array.shape[1:]))
    if not cuda:
        warm_page_cache(store.path)
    scoring = {}
    for name, _ in (variants if score_repeats > 0 else []):
        config, model = built[name]
        with autocast(device, dtypes[name]):
            score_all(model, test_loader, device, max_batches=2)  # warm-up (allocator, kernels)
            with ResidentMemory() as resident:
                seconds, std, peak, rows = time_scoring(model, test_loader, device, score_repeats)
        scoring[name] = {"seconds": seconds, "std": std, "peak_bytes": peak, "rows": rows,
                         "anon_start": resident.start["anon"], "anon_peak": resident.peak["anon"],
                         "file_start": resident.start["file"], "file_peak": resident.peak["file"]}
        logger.info(f"scoring, {name}: {seconds:.1f}s, peak {peak / 2**30:.2f} GiB (anonymous "
                    f"{resident.peak['anon'] / 2**30:.2f}, file-backed {resident.peak['file'] / 2**30:.2f})")
    steps_result = {name: {"seconds": float(np.mean(step_times[name])), "rounds": step_times[name],
                           "peak_bytes": step_memory[name]} for name, _ in variants if step_times[name]}
    bare = bare_encoder_figures(built[DEFAULT_VARIANT][1], train_data, scored_garments, device, steps,
                                score_repeats, steps_result, scoring)
    cold = cold_store_figures(built[DEFAULT_VARIANT][1], train_data, test_loader, device,
                              max(2, steps // 2)) if cold_store else {}
    facts = {"device": str(device), "batches_per_epoch": len(train_data), "train_batch_size": base["train_batch_size"],
             "test_rows": len(test_loader._dataset), "store_bytes": store.nbytes(), "store_rows": len(store),
             "image_size": store.image_size, "touched_bytes": touched, "backbone": base["backbone"],
             "amp_dtype": {name: str(dtype) if dtype else None for name, dtype in dtypes.items()},
             "scored_garments": len(scored_garments), "bare_encoder": bare, "cold_store": cold}
    return steps_result, scoring, facts


def bare_encoder_figures(model, train_data, scored_garments, device, steps, score_repeats, steps_result, scoring):
    """The default variant's step and scoring against the bare item encoder (:mod:`.bare_encoder`)."""
    logger = logging.getLogger()
    figures = {}
    if score_repeats > 0 and DEFAULT_VARIANT in scoring:
        logger.info(f"bare item encoder: forward over the {len(scored_garments):,} scored garments")
        bare = bare_scoring(model, scored_garments, device, repeats=score_repeats)
        full = len(scored_garments) / scoring[DEFAULT_VARIANT]["seconds"]
        figures["scoring"] = {"garments_per_second": full, "bare_garments_per_second": bare, "ratio": full / bare}
        logger.info(f"scoring {full:.0f} garments/s, bare encoder {bare:.0f} garments/s: {full / bare:.2f}")
    if steps > 0 and DEFAULT_VARIANT in steps_result:
        logger.info(f"bare item encoder: forward + backward over the garments of {steps} training batches")
        bare, garments = bare_steps(model, train_data, device, steps)
        step = steps_result[DEFAULT_VARIANT]["seconds"]
        figures["step"] = {"seconds": step, "bare_seconds": bare, "garments": garments, "ratio": step / bare}
        logger.info(f"step {step * 1000:.0f} ms, bare encoder {bare * 1000:.0f} ms: {step / bare:.2f}x")
    return figures


def amp_metrics(model_name, dataset_name, overrides, epochs):
    """A full training run with and without ``enable_amp`` (same seed): test metrics and training time."""
    results = {}
    for name, amp in (("float32", False), ("AMP", True)):
        result = run_recbole_outfit(model_name, dataset_name, config_dict={**overrides, "enable_amp": amp,
                                                                           "epochs": epochs},
                                    command_line=False)  # this benchmark's own flags are not settings
        results[name] = {"test_result": result.get("test_result"), "timing": result.get("timing")}
    return results


# ------------------------------------------------------------------------------------------------- report


def _gib(value):
    return f"{value / 2**30:.2f}"


def _produced_by(runs):
    """Header lines naming the command (and date) of each part: one block when one run measured it all."""
    commands = {part: (run["command"], run["date"]) for part, run in runs.items() if run}
    if len(set(commands.values())) == 1:
        command, date = next(iter(commands.values()))
        return [f"Measured {date} by", "", "```bash", command, "```", ""]
    lines = []
    for part, (command, date) in commands.items():
        lines += [f"The {'load table' if part == 'load' else 'training-step and scoring tables'} ({date}):", "",
                  "```bash", command, "```", ""]
    return lines


def load_table(loading):
    """Markdown lines of the load table (mean of each loader's fresh-process runs, ratios against RecBole's
    reader) and the speed-ups as facts."""
    base_name = LOAD_VARIANTS[0][0]
    timed = {name: runs for name, runs in loading.items() if name != "cache build" and runs}
    mean = {name: {k: float(np.mean([r[k] for r in runs])) for k in ("create_dataset", "data_preparation", "total",
                                                                      "cpu", "peak_rss")} for name, runs in timed.items()}
    table = [[name, f"{m['create_dataset']:.1f}", f"{m['data_preparation']:.1f}", f"{m['total']:.1f}",
              f"{mean[base_name]['total'] / m['total']:.1f}x", f"{m['cpu']:.1f}",
              f"{mean[base_name]['cpu'] / m['cpu']:.1f}x", _gib(m["peak_rss"])] for name, m in mean.items()]
    repeats = len(next(iter(timed.values())))
    lines = [f"## Dataset load (`create_dataset` + `data_preparation`), mean of {repeats} fresh process(es) each", "",
             format_table(["loader", "create_dataset (s)", "data_preparation (s)", "total (s)", "speed-up",
                           "CPU time (s)", "CPU speed-up", "peak RSS (GiB)"], table), "",
             "Seconds are wall-clock; CPU time is the loading process's own (user + system), which other "
             "jobs on a shared machine inflate less.", "",
             "`fast_loader: False` is RecBole 1.2.1's reader; `fast_loader: True` (the default) the plugin's, "
             "checked equal to it field by field (`tests/test_fast_loader.py`). The first two rows ran with "
             "`dataset_cache: False`. The cached row (`dataset_cache: True`, the default) restores the processed "
             "dataset from its verified cache (`recbole_outfit/data/dataset_cache.py`: checksum, settings and "
             "files checked before reuse; `tests/test_dataset_cache.py` checks it equals the processed one) "
             "and then runs the same `data_preparation`. Peak RSS includes the interpreter and torch.", ""]
    first = (loading.get("cache build") or [None])[0]
    if first and first["cache_built"]:
        lines += [f"The first load with `dataset_cache: True` processed the files and wrote the cache: "
                  f"{first['total']:.1f} s wall, {first['cpu']:.1f} s CPU (the fast loader's work plus writing "
                  "and checksumming the cache); every later load of the same settings and files is the cached row.", ""]
    elif first:
        lines += ["The cache had been built by an earlier load; the first process of this run used it.", ""]
    facts = {"load_speedup": mean[base_name]["total"] / mean[CACHED]["total"] if CACHED in mean else None,
             "load_cpu_speedup": mean[base_name]["cpu"] / mean[CACHED]["cpu"] if CACHED in mean else None}
    return lines, facts


def report(runs, loading, steps, scoring, facts, amp):
    """The markdown report; ``runs``: {"load" / "compute": {"args", "command", "date"} or None}."""
    args = (runs["compute"] or runs["load"])["args"]
    compute_args = runs["compute"]["args"] if runs["compute"] else args
    cuda = facts.get("device", "cpu").startswith("cuda")
    model = f"; {compute_args.model} ({facts['backbone']} item encoder), {facts['image_size']} px images" \
        if "backbone" in facts else ""
    lines = [f"# Scale on {args.dataset}", "", f"{machine_description()}, torch {torch.__version__}{model}.", ""]
    lines += _produced_by(runs)
    if not cuda:
        lines += ["On this CPU machine other jobs shared the cores while it ran (each measurement is one thread "
                  "unless the command says otherwise), so only the ratios within this file are meaningful, not "
                  "its seconds. Mixed precision is a CUDA path (`enable_amp` is ignored on CPU) and has no row "
                  "here; `scripts/gpu.sh` measures it on a GPU.", ""]
    if loading:
        table, speedups = load_table(loading)
        lines += table
        facts.update(speedups)
    if steps:
        base = steps["contiguous"]["seconds"]
        table = [[name, f"{s['seconds'] * 1000:.0f}", " / ".join(f"{x * 1000:.0f}" for x in s["rounds"]),
                  f"{base / s['seconds']:.2f}x", f"{s['seconds'] * facts['batches_per_epoch'] / 60:.1f}",
                  _gib(s["peak_bytes"])] for name, s in steps.items()]
        lines += [f"## Training step (batch {facts['train_batch_size']}, {facts['batches_per_epoch']:,} batches "
                  "an epoch)", "",
                  format_table(["variant", "ms / step", "per round (ms)", "speed-up", "epoch (min, extrapolated)",
                                "peak mem (GiB)"], table), "",
                  "A step is RecBole's: the batch with its sampled negatives, the image gather, forward, loss, "
                  f"backward, optimizer step. Variants alternate in {compute_args.rounds} rounds of "
                  f"{max(1, int(np.ceil(compute_args.steps / compute_args.rounds)))} steps.", ""]
    if scoring:
        base = scoring["contiguous"]["seconds"]
        table = []
        for name, s in scoring.items():
            row = [name, f"{s['seconds']:.1f}", f"{base / s['seconds']:.2f}x", _gib(s["peak_bytes"])]
            if not cuda:
                row += [f"{_gib(s['anon_start'])} -> {_gib(s['anon_peak'])}",
                        f"{_gib(s['file_start'])} -> {_gib(s['file_peak'])}"]
            table.append(row)
        headers = ["variant", "scoring (s)", "speed-up", "peak mem (GiB)"]
        if not cuda:
            headers += ["anonymous RSS (GiB)", "file-backed RSS (GiB)"]
        lines += [f"## Full test scoring ({facts['test_rows']:,} labeled rows, each distinct garment encoded once)",
                  "", format_table(headers, table), ""]
        if cuda and facts["backbone"] == "XS":
            lines += [f"The paper scores Polyvore-630's test candidates with XS in {PAPER_SCORING_SECONDS} s on "
                      "one P100 (Table 5).", ""]
        store_gib, touched_gib = facts["store_bytes"] / 2**30, facts["touched_bytes"] / 2**30
        full_gib = facts["store_rows"] * 3 * 224 * 224 / 2**30
        at_224 = f"; {full_gib:.1f} GiB at 224 px" if facts["image_size"] != 224 else ""
        lines += ["### Memory during a scoring pass", "",
                  f"The image store ({facts['store_rows']:,} garments, {store_gib:.2f} GiB at "
                  f"{facts['image_size']} px{at_224}) is memory-mapped (`np.load(mmap_mode="
                  "'r')`); a batch copies only its own rows out of the map. A test pass touches the rows of "
                  f"its distinct garments, {touched_gib:.2f} GiB here. Those pages are file-backed page cache, "
                  "clean and re-readable, which the kernel drops under memory pressure; the anonymous memory "
                  "(dataset tables, model, feature cache, batches) does not depend on the store's size. On a "
                  "GPU with room for it the store is copied to the device in 256 MiB chunks, so host memory "
                  "holds one chunk at a time.", ""]
    lines += bare_encoder_section(facts.get("bare_encoder"), compute_args.model)
    lines += cold_store_section(facts.get("cold_store"), steps, scoring)
    if amp:
        table = [[name, *(f"{r['test_result'][k] * 100:.2f}" for k in ("user_auc", "user_ndcg")),
                  f"{(r['timing'] or {}).get('train_seconds', float('nan')):.0f}"] for name, r in amp.items()]
        diff = abs(amp["AMP"]["test_result"]["user_auc"] - amp["float32"]["test_result"]["user_auc"]) * 100
        lines += [f"## Mixed precision: {compute_args.model} trained {compute_args.amp_epochs} epochs on "
                  f"{compute_args.amp_dataset}", "",
                  format_table(["precision", "test AUC", "test NDCG", "train (s)"], table), "",
                  f"AUC difference: {diff:.2f} points (target: within 0.5).", ""]
    return "\n".join(lines)


def bare_encoder_section(bare, model):
    """The report's table of the default variant against the bare item encoder (empty when not measured)."""
    if not bare:
        return []
    table = []
    if "scoring" in bare:
        s = bare["scoring"]
        table.append(["full test scoring (garments / s)", f"{s['garments_per_second']:.0f}",
                      f"{s['bare_garments_per_second']:.0f}", f"{s['ratio']:.2f}", f">= {SCORING_GOAL}",
                      "met" if s["ratio"] >= SCORING_GOAL else "not met"])
    if "step" in bare:
        s = bare["step"]
        table.append([f"{model} training step (ms)", f"{s['seconds'] * 1000:.0f}", f"{s['bare_seconds'] * 1000:.0f}",
                      f"{s['ratio']:.2f}x", f"<= {STEP_GOAL}x", "met" if s["ratio"] <= STEP_GOAL else "not met"])
    garments = f" (a batch holds {bare['step']['garments']:.0f} distinct garments on average)" if "step" in bare else ""
    return [f"## Against the bare item encoder ({DEFAULT_VARIANT})", "",
            format_table(["path", "measured", "bare encoder", "ratio", "goal", ""], table), "",
            "The bare encoder is the item encoder alone on images already in memory: its forward over the scored "
            "garments, and its forward + backward over the distinct garments of real training batches"
            f"{garments}. The rest of a pass or a step (store reads, outfit encoder, scores, loss, optimizer, "
            "sampling) is the difference.", ""]


def cold_store_section(cold, steps, scoring):
    """The report's table of passes with the store dropped from the page cache (empty when not measured)."""
    if not cold:
        return []
    warm_scoring = scoring.get(DEFAULT_VARIANT, {}).get("seconds")
    warm_step = steps.get(DEFAULT_VARIANT, {}).get("seconds")
    rows = []
    for name, figures in cold.items():
        rows.append([f"full test scoring, {name}", f"{warm_scoring:.1f} s" if warm_scoring else "-",
                     f"{figures['scoring_seconds']:.1f} s",
                     f"{figures['scoring_seconds'] / warm_scoring:.2f}x" if warm_scoring else "-"])
        if figures.get("step_seconds"):
            rows.append([f"training step, {name}", f"{warm_step * 1000:.0f} ms" if warm_step else "-",
                         f"{figures['step_seconds'] * 1000:.0f} ms",
                         f"{figures['step_seconds'] / warm_step:.2f}x" if warm_step else "-"])
    return [f"## A store that is not in the page cache ({DEFAULT_VARIANT})", "",
            format_table(["path", "cached store", "store read from disk", "ratio"], rows), "",
            "Before each pass (and each step) the store's pages are dropped from the process's mapping and the "
            "page cache (`madvise(MADV_DONTNEED)`, `posix_fadvise(POSIX_FADV_DONTNEED)`), so every image comes "
            "from the disk: what each pass meets when the image stores are larger than the memory (Polyvore-630 "
            "and -519 together at 224 px, 40 GiB, on a 24 GiB machine). Reading ahead overlaps those reads with "
            "the computation; the cached column is the tables above (read ahead on, the default).", ""]


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.benchmarks.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="synthetic630full", help="a Polyvore-630-sized dataset")
    parser.add_argument("--model", default="NPair", help="model whose training step and scoring are timed")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per variant (0: skip)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the step variants")
    parser.add_argument("--load_repeats", type=int, default=1, help="fresh-process loads per loader (0: skip)")
    parser.add_argument("--score_repeats", type=int, default=1, help="full scoring passes per variant (0: skip)")
    parser.add_argument("--amp_dataset", default="synthetic630", help="dataset of the AMP-vs-float32 runs (CUDA)")
    parser.add_argument("--amp_epochs", type=int, default=10, help="epochs of each AMP-vs-float32 run (0: skip)")
    parser.add_argument("--only", choices=("load", "compute"),
                        help="measure only the load table (or only the step / scoring / AMP tables) and keep the "
                             "other tables from <out>/scale-<dataset>.json")
    parser.add_argument("--cold_store", action="store_true",
                        help="also score and step with the store dropped from the page cache (read from disk)")
    parser.add_argument("--out", default="results", help="folder of the report")
    parser.add_argument("--gpu_id", default="0")
    return parser


PREFIX = "python -m recbole_outfit.benchmarks.scale "


def kept_results(json_path, md_path, parser):
    """(results, runs) of an earlier report: its tables, and for each part the command and date that measured
    it (reports written before ``runs`` was recorded: their one command, the date from their header)."""
    if not os.path.isfile(json_path):
        raise ConfigError(f"--only keeps the other tables from {json_path}, which does not exist", where="--only",
                          fix="run the whole benchmark once first (without --only), with the same --out")
    with open(json_path, "r", encoding="utf-8") as f:
        old = json.load(f)
    runs = old.get("runs")
    if runs is None:
        date = "date not recorded"
        if os.path.isfile(md_path):
            with open(md_path, "r", encoding="utf-8") as f:
                found = re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", f.read())
            date = found.group(0) if found else date
        runs = {part: {"command": old["command"], "date": date} for part in ("load", "compute")}
    for run in runs.values():
        if run:
            run["args"], _ = parser.parse_known_args(shlex.split(run["command"][len(PREFIX):]))
    return old, runs


@exits_2_on_user_error
def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if not (args.only or args.load_repeats or args.steps or args.score_repeats):
        parser.error("nothing to measure: --load_repeats, --steps and --score_repeats are all 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    overrides = {"show_progress": False, "state": "WARNING", "gpu_id": args.gpu_id}
    for item in extra:  # any other --key=value is a config setting, as on the main command line
        key, _, value = item.lstrip("-").partition("=")
        overrides[key] = value
    md_path = os.path.join(args.out, f"scale-{args.dataset}.md")
    json_path = os.path.join(args.out, f"scale-{args.dataset}.json")
    this_run = {"args": args, "command": command_text(PREFIX.strip(), args.argv),
                "date": time.strftime("%Y-%m-%d %H:%M")}
    if args.only:
        old, runs = kept_results(json_path, md_path, parser)
        loading, steps, scoring, amp = old["loading"], old["steps"], old["scoring"], old["amp"]
        facts = {k: v for k, v in old["facts"].items() if not k.startswith("load_")} if args.only == "load" else {}
        runs[args.only] = this_run
    else:
        loading, steps, scoring, facts, amp = {}, {}, {}, {}, {}
        runs = {"load": this_run if args.load_repeats else None,
                "compute": this_run if args.steps or args.score_repeats else None}
    ensure_atomic_dataset(Config(args.model, args.dataset, config_dict=overrides, command_line=False))  # not timed
    if args.only != "compute":
        loading = loading_benchmark(args.model, args.dataset, overrides, args.load_repeats) if args.load_repeats else {}
    if args.only != "load":
        steps, scoring, facts = compute_benchmark(args.model, args.dataset, overrides, args.steps, args.rounds,
                                                  args.score_repeats, args.cold_store) if (args.steps or args.score_repeats) else ({}, {}, {})
        cuda = torch.cuda.is_available() and facts.get("device", "cpu").startswith("cuda")
        amp = amp_metrics(args.model, args.amp_dataset, overrides, args.amp_epochs) if cuda and args.amp_epochs else {}
    text = report(runs, loading, steps, scoring, facts, amp)
    os.makedirs(args.out, exist_ok=True)
    with atomic_write(md_path) as f:
        f.write(text + "\n")
    write_json_atomic(json_path, {
        "command": this_run["command"], "machine": machine_description(), "loading": loading, "steps": steps,
        "scoring": scoring, "facts": facts, "amp": amp,
        "runs": {part: {k: run[k] for k in ("command", "date")} if run else None for part, run in runs.items()}})
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
