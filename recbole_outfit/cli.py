"""The command line: ``python run_recbole_outfit.py --model=FNDCL --dataset=synthetic630 [--key=value ...]``.

Flags as in RecBole: ``--model``, ``--dataset``, ``--config_files`` (space-separated yaml files); every other
``--key=value`` overrides that config key, passed to the Config as a dict (nothing is read from or written to
``sys.argv`` but the arguments themselves). A problem the user can fix (unknown model or dataset, a bad value,
a malformed file) prints one paragraph and exits with status 2.

The arguments and the config files are checked before torch and RecBole are imported
(``validation.check_command_line``), so ``--help`` and a mistake answer at once; the run's modules are
imported after that.
"""

import argparse
import logging
import sys

from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.pipeline.model_spec import parse_model_spec, split_model_specs
from recbole_outfit.startup import loading
from recbole_outfit.validation import check_command_line, check_model_names, parse_overrides

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


def check_flags(args):
    """The command's own numeric flags, before any work."""
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}", where=f"--seeds={args.seeds}",
                          fix="Give how many seeds each model runs, e.g. --seeds=3 (1: one run per model)")
    if args.nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {args.nproc}", where=f"--nproc={args.nproc}",
                          fix="Give the number of processes of a distributed run, e.g. --nproc=2")


@exits_2_on_user_error
def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args, rest = build_parser().parse_known_args(argv)
    check_flags(args)
    overrides = parse_overrides(rest)
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    check_command_line(overrides, config_files)
    models = split_model_specs(args.model)
    check_model_names([parse_model_spec(spec)[0] for spec in models])

    loading()
    from recbole_outfit.experiments.compare import compare
    from recbole_outfit.pipeline.finished_runs import keep_finished_run
    from recbole_outfit.config import Config
    from recbole_outfit.quick_start import run_distributed, run_recbole_outfit
    from recbole_outfit.report import command_text

    if len(models) > 1 or args.seeds > 1:
        # the comparison's seeds are S, S+1, ...: the first goes in config_dict, below each row's own settings
        # (a --seed left among the overrides, which outrank config_dict, would give every seed's row seed S)
        overrides = dict(overrides)
        first_seed = overrides.pop("seed", None)
        config_dict = None if first_seed is None else {"seed": first_seed}
        compare(models, args.dataset, args.seeds, config_files, config_dict=config_dict, out_dir=args.results_dir,
                command=command_text("python run_recbole_outfit.py", argv), overwrite=args.overwrite,
                command_line=overrides)
    elif args.nproc > 1 or args.world_size > 1:
        run_distributed(models[0], args.dataset, config_files, nproc=args.nproc, world_size=args.world_size,
                        ip=args.ip, port=args.port, group_offset=args.group_offset, command_line=overrides)
    else:
        name, settings = parse_model_spec(models[0])  # FND:teacher=oracle works alone as in a comparison
        result = run_recbole_outfit(model=name, dataset=args.dataset, config_file_list=config_files,
                                    config_dict=settings or None, command_line=overrides)
        config = Config(name, args.dataset, config_file_list=config_files, config_dict=settings or None,
                        command_line=overrides)
        if not config["checkpoint"]:  # a trained run (not a checkpoint's evaluation): a comparison may reuse it
            keep_finished_run(config, result)
        files = [f"{what} {result[key]}" for what, key in (("results", "results_json"), ("checkpoint", "checkpoint"))
                 if result.get(key)]
        logging.getLogger().info("Run finished: " + ", ".join(files))  # the last line: where its files are
    return 0


if __name__ == "__main__":
    sys.exit(main())
