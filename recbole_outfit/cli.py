"""The command line: ``python run_recbole_outfit.py --model=FNDCL --dataset=synthetic630 [--key=value ...]``.

Flags as in RecBole: ``--model``, ``--dataset``, ``--config_files`` (space-separated yaml files); every other
``--key=value`` overrides that config key. A problem the user can fix (unknown model or dataset, a bad value,
a malformed file) prints one paragraph and exits with status 2.
"""

import argparse
import sys
from contextlib import contextmanager

from recbole_outfit.config import Config
from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.experiments.compare import compare
from recbole_outfit.pipeline.finished_runs import keep_finished_run
from recbole_outfit.pipeline.model_spec import parse_model_spec, split_model_specs
from recbole_outfit.quick_start import run_distributed, run_recbole_outfit
from recbole_outfit.report import command_text

DEFAULT_MODEL = "FNDCL"
DEFAULT_DATASET = "synthetic630"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_recbole_outfit.py", description="Personalized outfit recommendation with RecBole.",
        allow_abbrev=False,  # --seed=2020 is a config key, not an abbreviation of --seeds
        epilog="Any other --key=value overrides that configuration key (see properties/*.yaml).")
    parser.add_argument("--model", "-m", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    parser.add_argument("--dataset", "-d", default=DEFAULT_DATASET, help=f"dataset name (default {DEFAULT_DATASET})")
    parser.add_argument("--config_files", default=None, help="space-separated yaml files")
    parser.add_argument("--seeds", type=int, default=1, help="with several models: seeds per model (comparison)")
    parser.add_argument("--results_dir", default=None,
                        help="with several models: where the tables go (default <checkpoint_dir>/comparisons)")
    parser.add_argument("--overwrite", type=_true_or_false, default=False,
                        help="replace a comparison table that has more rows or seeds than the new one")
    parser.add_argument("--nproc", type=int, default=1, help="processes of a distributed run (RecBole's)")
    parser.add_argument("--world_size", type=int, default=-1, help="processes in all (-1: nproc)")
    parser.add_argument("--ip", default="localhost", help="address of the distributed run's first process")
    parser.add_argument("--port", default="5678", help="port of the distributed run's first process")
    parser.add_argument("--group_offset", type=int, default=0, help="rank of this machine's first process")
    return parser


def _true_or_false(text):
    if text not in ("True", "False"):
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return text == "True"


@exits_2_on_user_error
def main(argv=None):
    args, _ = build_parser().parse_known_args(argv)
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    models = split_model_specs(args.model)
    if len(models) > 1 or args.seeds > 1:
        command = command_text("python run_recbole_outfit.py", sys.argv[1:] if argv is None else argv)
        with first_seed_from_command_line() as config_dict:
            compare(models, args.dataset, args.seeds, config_files, config_dict=config_dict,
                    out_dir=args.results_dir, command=command, overwrite=args.overwrite)
    elif args.nproc > 1 or args.world_size > 1:
        run_distributed(models[0], args.dataset, config_files, nproc=args.nproc, world_size=args.world_size,
                        ip=args.ip, port=args.port, group_offset=args.group_offset)
    else:
        name, settings = parse_model_spec(models[0])  # FND:teacher=oracle works alone as in a comparison
        result = run_recbole_outfit(model=name, dataset=args.dataset, config_file_list=config_files,
                                    config_dict=settings or None)
        config = Config(name, args.dataset, config_file_list=config_files, config_dict=settings or None)
        if not config["checkpoint"]:  # a trained run (not a checkpoint's evaluation): a comparison may reuse it
            keep_finished_run(config, result)
    return 0


@contextmanager
def first_seed_from_command_line():
    """A comparison's ``config_dict``: ``{"seed": S}`` for ``--seed=S``, taken out of ``sys.argv`` meanwhile.
    RecBole's Config gives a ``--key=value`` precedence over ``config_dict``, so left there it would give every
    row of every seed the same seed; the comparison's seeds are S, S+1, ..."""
    given = [a for a in sys.argv[1:] if a.startswith("--seed=")]
    if not given:
        yield None
        return
    value = given[-1].split("=", 1)[1]
    if not value.lstrip("-").isdigit():
        raise ConfigError(f"seed must be int, got {value!r}", where="--seed", fix="give a whole number: --seed=2020")
    saved = sys.argv
    sys.argv = [a for a in saved if not a.startswith("--seed=")]
    try:
        yield {"seed": int(value)}
    finally:
        sys.argv = saved


if __name__ == "__main__":
    sys.exit(main())
