"""Model compactness and inference / training efficiency (paper section 4.7, Table 5, and better).

    python -m recbole_outfit.benchmarks.efficiency --dataset=synthetic630full [--sizes large,M,S,XS]
        [--repeats 10] [--baseline_repeats 2] [--baseline_fraction 1.0] [--train_dataset synthetic630] [--steps 20] [--out results]
        [--key=value ...]    (any other config setting, as on the main command line)

Scoring: for the Teacher (large) and the XS / S / M students, the time to score every user's test
candidates (every labeled test row), mean +- std over ``repeats`` runs, with

* ``cached``: each distinct garment encoded once per pass (``eval_feature_cache: True``, our default), and
* ``per-row``: every outfit row encodes its own garments, as a straightforward port does,

their ratio, the peak memory during scoring (GPU memory on GPU, else the process's resident set size,
sampled) and the parameter count with its ratio to the Teacher. Weights are random: timing does not depend
on them.

Training: seconds per step of the N-pair student, of FND with the cached teacher, of FND running the
teacher forward each step, and of FND-CL, with ratios to the N-pair step.

Writes ``<out>/efficiency-<dataset>.md`` and prints the tables.
"""

import argparse
import logging
import os
import sys
import threading
import time

import numpy as np
import psutil
import torch
from recbole.utils import init_seed

from recbole_outfit.atomic import atomic_write
from recbole_outfit.config import Config
from recbole_outfit.model.autoencoder import neighbour_table
from recbole_outfit.model.distillation import FrozenTeacher
from recbole_outfit.report import command_text, format_table, machine_description
from recbole_outfit.trainer.lookahead import Lookahead
from recbole_outfit.utils import create_dataset, data_preparation, get_model

PAPER_PARAMS_630 = {"large": 65.99, "M": 28.10, "S": 13.88, "XS": 2.85}  # Table 5, millions


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak on GPU, else resident set size sampled every 20 ms."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.peak_bytes = 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._process = psutil.Process()
            self._stop = threading.Event()
            self.peak_bytes = self._process.memory_info().rss
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
        return False


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def score_all(model, loader, device, max_batches=None):
    """Score every row of ``loader`` once (or its first ``max_batches``); return the number of rows."""
    model.eval()  # a fresh evaluation pass: the garment feature cache starts empty
    rows = 0
    for batch, (interaction, *_) in enumerate(loader):
        if max_batches is not None and batch >= max_batches:
            break
        model.predict(interaction.to(device))
        rows += len(interaction)
    _sync(device)
    return rows


def time_scoring(model, loader, device, repeats, fraction=1.0):
    """(mean seconds, std seconds, peak memory bytes, rows) over ``repeats`` full scoring passes.

    ``fraction`` < 1 times only the first ``fraction`` of the batches and scales the time to every row. That
    is exact for per-row scoring, whose batches are independent and equally costly, and wrong for the cached
    pass (its cache fills as the pass goes), which is therefore always timed in full.
    """
    total_batches = len(loader)
    max_batches = None if fraction >= 1 else max(1, int(np.ceil(total_batches * fraction)))
    seconds = []
    with PeakMemory(device) as memory:
        for _ in range(repeats):
            started = time.perf_counter()
            rows = score_all(model, loader, device, max_batches=max_batches)
            seconds.append(time.perf_counter() - started)
    scale = len(loader._dataset) / rows
    return float(np.mean(seconds)) * scale, float(np.std(seconds)) * scale, memory.peak_bytes, rows


def scoring_benchmark(dataset_name, sizes, repeats, baseline_repeats, overrides, baseline_fraction=1.0):
    """Scoring time, memory and parameters of the Teacher and the students on ``dataset_name``'s test split.

    The per-row baseline is timed on the first ``baseline_fraction`` of the test batches and scaled to every
    row (see :func:`time_scoring`)."""
    rows, params = [], {}
    logger = logging.getLogger()
    dataset = test_loader = None
    for size in sizes:
        model_name = "Teacher" if size == "large" else "NPair"
        config = Config(model_name, dataset_name, config_dict={**overrides, "backbone": size}, command_line=False)
        if dataset is None:
            dataset = create_dataset(config)
            _, _, tests = data_preparation(config, dataset)
            test_loader = tests["test"]
        init_seed(config["seed"], True)
        model = get_model(model_name)(config, dataset).to(config["device"])
        params[size] = sum(p.numel() for p in model.parameters())
        results = {}
        for mode, cached, runs, fraction in (("cached", True, repeats, 1.0),
                                             ("per-row", False, baseline_repeats, baseline_fraction)):
            if runs <= 0:
                continue
            model.eval_feature_cache = cached
            score_all(model, test_loader, config["device"], max_batches=2)  # warm-up (allocator, kernels)
            results[mode] = time_scoring(model, test_loader, config["device"], runs, fraction)
            logger.info(f"{size} {mode}: {results[mode][0]:.2f}s +- {results[mode][1]:.2f} over {runs} runs "
                        f"({results[mode][3]} rows timed), peak memory {results[mode][2] / 2**30:.2f} GiB")
        rows.append((size, results))
        del model
    return rows, params, (len(test_loader._dataset), dataset.user_num - 1)  # rows, users (token 0 is padding)


def _untrained_teacher_model(config, dataset):
    """A randomly initialised, frozen Teacher: distillation timing does not depend on weights."""
    teacher_config = Config("Teacher", config["dataset"], config_dict={"data_path": os.path.dirname(
        os.path.normpath(config["data_path"]))}, command_line=False)
    model = get_model("Teacher")(teacher_config, dataset)
    return model.requires_grad_(False).eval().to(config["device"])


def _random_neighbours(dataset, k=10):
    """A same-category random neighbour table (replace's cost does not depend on which neighbours)."""
    garments = torch.arange(1, len(dataset.garment_category))
    return neighbour_table(torch.randn(len(garments), 16), garments, dataset.garment_category,
                           len(dataset.garment_category), k)


def _batches(model, loader, device):
    """The loader's batches as the trainer draws them: one step ahead, with the next batch's images read
    meanwhile, when the model reads a host image store ahead (``trainer.lookahead``)."""
    if getattr(model, "prefetch_batch", None) is not None and model.reads_images_ahead():
        return iter(Lookahead(loader, lambda batch: model.prefetch_batch(batch.to(device))))
    return iter(loader)


def time_steps(model, loader, device, steps, warmup=3, before_step=None):
    """Seconds per optimisation step (data, loss, backward, SGD step), as RecBole's Trainer does them;
    ``before_step()`` runs before each step, untimed (e.g. dropping the image store from the page cache)."""
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    model.train()
    seconds, batches = [], _batches(model, loader, device)
    for step in range(warmup + steps):
        if before_step is not None:
            before_step()
        started = time.perf_counter()
        try:
            interaction = next(batches)
        except StopIteration:
            batches = _batches(model, loader, device)
            interaction = next(batches)
        interaction = interaction.to(device)
        optimizer.zero_grad()
        losses = model.calculate_loss(interaction)
        loss = sum(losses) if isinstance(losses, tuple) else losses
        loss.backward()
        optimizer.step()
        _sync(device)
        if step >= warmup:
            seconds.append(time.perf_counter() - started)
    return float(np.mean(seconds)), float(np.std(seconds))


def training_benchmark(dataset_name, steps, overrides):
    """Step time of NPair, FND (cached teacher), FND (teacher forward per step) and FND-CL."""
    logger = logging.getLogger()
    base = Config("FNDCL", dataset_name, config_dict={**overrides, "distill": False, "cl_weight": 0.0},
                  command_line=False)
    dataset = create_dataset(base)
    train_data, _, _ = data_preparation(base, dataset)
    neighbours = _random_neighbours(dataset)
    variants = [
        ("N-pair student", {"distill": False, "cl_weight": 0.0}),
        ("FND, cached teacher", {"teacher_feature_cache": True, "cl_weight": 0.0}),
        ("FND, teacher forward per step", {"teacher_feature_cache": False, "cl_weight": 0.0}),
        ("FND-CL, cached teacher", {"teacher_feature_cache": True}),
    ]
    rows = []
    for name, settings in variants:
        config = Config("FNDCL", dataset_name, config_dict={**overrides, **settings}, command_line=False)
        teacher = None
        if config["distill"]:  # a fresh frozen teacher per variant: the cached one drops its item encoder
            teacher = FrozenTeacher(_untrained_teacher_model(config, train_data._dataset), config["fnd_alpha"],
                                    feature_cache=config["teacher_feature_cache"])
            teacher.prepare(train_data._dataset)
        init_seed(config["seed"], True)
        model = get_model("FNDCL")(config, train_data._dataset, teacher=teacher, neighbours=neighbours)
        model = model.to(config["device"])
        mean, std = time_steps(model, train_data, config["device"], steps)
        logger.info(f"{name}: {mean * 1000:.0f} ms +- {std * 1000:.0f} per step")
        rows.append((name, mean, std))
    return rows


def report(scoring, params, counts, training, args):
    lines = [f"# Efficiency on {args.dataset}", "",
             f"{machine_description()}, {time.strftime('%Y-%m-%d')}, torch {torch.__version__}. Produced by", "",
             "```bash", command_text("python -m recbole_outfit.benchmarks.efficiency", args.argv), "```", ""]
    if scoring:
        teacher_params = params.get("large")
        table = []
        for size, results in scoring:
            cached, per_row = results.get("cached"), results.get("per-row")
            cell = lambda r: f"{r[0]:.2f} ± {r[1]:.2f}" if r else "-"
            memory = lambda r: f"{r[2] / 2**30:.2f}" if r else "-"
            ratio = f"{per_row[0] / cached[0]:.1f}x" if cached and per_row else "-"
            share = f"{params[size] / teacher_params:.1%}" if teacher_params else "-"
            table.append([("Teacher (large)" if size == "large" else size), f"{params[size] / 1e6:.2f}M",
                          f"{PAPER_PARAMS_630[size]:.2f}M", share, cell(cached), cell(per_row), ratio,
                          memory(cached), memory(per_row)])
        test_rows, users = counts
        lines += [f"## Scoring every user's test candidates ({test_rows:,} labeled rows, {users:,} users)", "",
                  format_table(["model", f"params ({users:,} users)", "paper (630 users)", "of teacher", "cached (s)", "per-row (s)",
                                "speed-up", "peak mem cached (GiB)", "peak mem per-row (GiB)"], table), "",
                  "Peak memory is GPU memory on a GPU, else the process's resident set size (which includes the "
                  "memory-mapped image store and the loaded dataset).", ""]
        if args.baseline_fraction < 1:
            lines[-1:-1] = [f"Per-row times are measured on the first {args.baseline_fraction:.0%} of the test batches "
                            "and scaled to every row (its batches are independent and equally costly); cached "
                            "times are full passes."]
    if training:
        base = training[0][1]
        table = [[name, f"{mean * 1000:.0f} ± {std * 1000:.0f}", f"{mean / base:.2f}x"] for name, mean, std in training]
        lines += [f"## Training step on {args.train_dataset} (batch {args.batch_size}, XS student)", "",
                  format_table(["student step", "ms / step", "vs N-pair"], table), ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.benchmarks.efficiency",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="synthetic630full", help="dataset whose test split is scored")
    parser.add_argument("--sizes", default="large,M,S,XS", help="item encoder sizes to score")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs of cached scoring")
    parser.add_argument("--baseline_repeats", type=int, default=2, help="timed runs of per-row scoring (0: skip)")
    parser.add_argument("--baseline_fraction", type=float, default=1.0,
                        help="share of the test batches the per-row baseline is timed on, scaled to all rows")
    parser.add_argument("--train_dataset", default="synthetic630", help="dataset for the training-step timing")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per variant (0: skip)")
    parser.add_argument("--batch_size", type=int, default=32, help="training batch size")
    parser.add_argument("--out", default="results", help="folder of the markdown report")
    parser.add_argument("--gpu_id", default="0")
    args, extra = parser.parse_known_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    overrides = {"show_progress": False, "state": "WARNING", "gpu_id": args.gpu_id, "train_batch_size": args.batch_size}
    for item in extra:  # any other --key=value is a config setting, as on the main command line
        key, _, value = item.lstrip("-").partition("=")
        overrides[key] = value
    sizes = [s for s in args.sizes.split(",") if s]
    scoring, params, counts = scoring_benchmark(args.dataset, sizes, args.repeats, args.baseline_repeats,
                                                overrides, args.baseline_fraction) if sizes else ([], {}, (0, 0))
    training = training_benchmark(args.train_dataset, args.steps, overrides) if args.steps > 0 else []
    text = report(scoring, params, counts, training, args)
    os.makedirs(args.out, exist_ok=True)
    with atomic_write(os.path.join(args.out, f"efficiency-{args.dataset}.md")) as f:
        f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
