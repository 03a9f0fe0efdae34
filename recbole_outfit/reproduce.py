"""Every table and figure of the paper, one command each.

    python -m recbole_outfit.reproduce --list
    python -m recbole_outfit.reproduce NAME [--seeds N] [--seed S] [--gpu_id G] [--out DIR] [--claims]

``NAME`` is a spec in ``properties/reproduce/`` (``table2`` ... ``table5``, ``fig4`` ... ``fig8``); its runs go
through the comparison's finished-run cache (a finished run is reused, an interrupted one resumes with
``--resume=True`` settings of its own). With the spec's own seeds (``--seeds`` and ``--seed`` left out) the pages
go to ``results/paper/``; a partial run (other seeds, e.g. one seed per process) writes to
``saved/reproduce/`` instead, so it never replaces a page with fewer seeds. ``--claims`` rewrites
``results/paper/README.md`` from the pages there (every experiment does so after writing its page).
A malformed spec, an unknown model or setting is one paragraph and exit 2, before anything trains.
"""

import argparse
import sys
from logging import getLogger

from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.experiments.paper_spec import load_spec, spec_names
from recbole_outfit.startup import loading

PAGES = "results/paper"
PARTIAL_PAGES = "saved/reproduce"


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", help="the experiment (see --list)")
    parser.add_argument("--list", action="store_true", help="the experiments, their claims and finished runs")
    parser.add_argument("--seeds", type=int, default=None, help="seeds to run (default: the spec's)")
    parser.add_argument("--seed", type=int, default=2020, help="the first seed (default 2020)")
    parser.add_argument("--gpu_id", default=None, help="GPU of every run (default: the configuration's)")
    parser.add_argument("--out", default=None, help=f"folder of the pages (default {PAGES}, or {PARTIAL_PAGES} "
                                                    "for a run with other seeds than the spec's)")
    parser.add_argument("--claims", action="store_true", help=f"rewrite {PAGES}/README.md from the pages there")
    return parser


def list_specs():
    from recbole_outfit.experiments.paper import status  # torch and RecBole: after the arguments are checked

    lines = []
    for name in spec_names():
        spec = load_spec(name)
        seeds = list(range(2020, 2020 + spec.get("seeds", 1)))
        finished = ""
        if spec["kind"] in ("comparison", "sweep"):
            try:
                done, total = status(spec, seeds)
                finished = f", {done} of {total} runs finished"
            except ConfigError as error:  # e.g. a model this installation does not have
                finished = f"; cannot run here: {error.what}"
        lines.append(f"{name:8s} {spec['title']} ({spec['kind']}, {', '.join(spec['datasets'])}, "
                     f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}{finished})")
    print("\n".join(lines))


@exits_2_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}", where="--seeds", fix="e.g. --seeds=3")
    if not (args.list or args.name or args.claims):
        raise ConfigError("name an experiment", where="the command line",
                          fix="python -m recbole_outfit.reproduce --list shows them; e.g. ... reproduce fig6")
    spec = load_spec(args.name) if args.name else None  # a malformed spec answers before the heavy imports
    loading()
    from recbole_outfit.experiments.paper import run_experiment, write_claims_page

    if args.list:
        list_specs()
        return 0
    if spec is not None:
        own = args.seeds is None and args.seed == 2020
        seeds = list(range(args.seed, args.seed + (args.seeds or spec.get("seeds", 1))))
        out = args.out or (PAGES if own else PARTIAL_PAGES)
        argv_text = list(sys.argv[1:] if argv is None else argv)
        run_experiment(spec, seeds, out, command_args=argv_text, gpu_id=args.gpu_id)
        if out == PAGES:
            write_claims_page(PAGES)
        getLogger().info(f"{spec.name}: pages written to {out}/{spec.name}.md, .csv, .png")
    if args.claims:
        write_claims_page(args.out or PAGES)
        print(f"{args.out or PAGES}/README.md written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
