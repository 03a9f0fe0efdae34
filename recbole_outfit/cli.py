"""The command line: ``python run_recbole_outfit.py --model=FNDCL --dataset=synthetic630 [--key=value ...]``.

Flags as in RecBole: ``--model``, ``--dataset``, ``--config_files`` (space-separated yaml files); every other
``--key=value`` overrides that config key. A problem the user can fix (unknown model or dataset, a bad value,
a malformed file) prints one paragraph and exits with status 2.
"""

import argparse
import sys

DEFAULT_MODEL = "FNDCL"
DEFAULT_DATASET = "synthetic630"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_recbole_outfit.py", description="Personalized outfit recommendation with RecBole.",
        epilog="Any other --key=value overrides that configuration key (see properties/*.yaml).")
    parser.add_argument("--model", "-m", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    parser.add_argument("--dataset", "-d", default=DEFAULT_DATASET, help=f"dataset name (default {DEFAULT_DATASET})")
    parser.add_argument("--config_files", default=None, help="space-separated yaml files")
    return parser


def main(argv=None):
    from recbole_outfit.errors import OutfitError
    from recbole_outfit.quick_start import run_recbole_outfit

    args, _ = build_parser().parse_known_args(argv)
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    try:
        run_recbole_outfit(model=args.model, dataset=args.dataset, config_file_list=config_files)
    except OutfitError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
