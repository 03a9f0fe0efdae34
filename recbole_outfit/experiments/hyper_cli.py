"""The hyper-parameter search's command line: ``python run_hyper_outfit.py --model=FND --params_file=alpha.hyper``.

Its flags and ``--key=value`` settings (fixed for every trial, passed to each trial's Config as a dict) are
checked before torch, RecBole and hyperopt are imported, so ``--help`` and a mistake answer at once; the search
itself is ``experiments.hyper.hyper_search``.
"""

import argparse
import sys

from recbole_outfit.errors import exits_2_on_user_error
from recbole_outfit.experiments.search_space import read_params_file, resolve_params_file
from recbole_outfit.startup import loading
from recbole_outfit.validation import SEARCH_ALGORITHMS as ALGORITHMS
from recbole_outfit.validation import check_command_line, check_model_names, check_search_flags, parse_overrides

def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_hyper_outfit.py", description="Hyper-parameter search of an outfit recommender (RecBole's "
        "HyperTuning) by the validation metric.", allow_abbrev=False,
        epilog="Any other --key=value fixes that configuration key for every trial (see properties/*.yaml).")
    parser.add_argument("--model", "-m", default="FND", help="model name (default FND)")
    parser.add_argument("--dataset", "-d", default="synthetic630", help="dataset name (default synthetic630)")
    parser.add_argument("--config_files", default=None, help="space-separated yaml files every trial reads")
    parser.add_argument("--params_file", default=None,
                        help="the .hyper file (a path or a name in properties/hyper; default <model>.hyper)")
    parser.add_argument("--algo", default="exhaustive", choices=ALGORITHMS, help="search algorithm (RecBole's)")
    parser.add_argument("--max_evals", type=int, default=100, help="trials at most (random / bayes)")
    parser.add_argument("--early_stop", type=int, default=10,
                        help="stop after this many trials without a better validation score")
    parser.add_argument("--results_dir", default=None,
                        help="where hyper-<model>-<dataset>.md/.csv go (default <checkpoint_dir>/comparisons)")
    return parser


@exits_2_on_user_error
def main(argv=None):
    """The command line (``run_hyper_outfit.py``); a problem the user can fix prints one paragraph, exit 2."""
    given = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args, rest = build_parser().parse_known_args(given)
    check_search_flags(args.algo, args.max_evals, args.early_stop)
    overrides = parse_overrides(rest)
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    check_command_line(overrides, config_files)
    check_model_names([args.model])
    read_params_file(resolve_params_file(args.params_file, args.model))  # its mistakes, by line, at once

    loading("RecBole, torch and hyperopt")
    from recbole_outfit.experiments.hyper import hyper_search
    from recbole_outfit.report import command_text

    found = hyper_search(args.model, args.dataset, args.params_file, algo=args.algo, max_evals=args.max_evals,
                         early_stop=args.early_stop, config_file_list=config_files, out_dir=args.results_dir,
                         command=command_text("python run_hyper_outfit.py", given), command_line=overrides)
    print("best params: ", found["best_params"])  # as RecBole's run_hyper.py ends
    print("best valid result: ", found["best_valid_result"])
    print("test result: ", found["test_result"])
    print(f"all trials: {found['files'][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
