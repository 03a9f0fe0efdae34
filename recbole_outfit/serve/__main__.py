"""Serve a trained checkpoint as a web page (binds to 127.0.0.1 unless told otherwise).

    python -m recbole_outfit.serve --checkpoint PATH [--port 8000] [--host 127.0.0.1] [--k 10]

Needs the ``serve`` extra (FastAPI, Jinja2, uvicorn). A bad checkpoint or option is one paragraph and exit 2.
"""

import argparse
import sys

from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.startup import loading


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.serve",
                                     description="A web page of a trained recbole-outfit model.")
    parser.add_argument("--checkpoint", required=True, help="a .pth file a run saved")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--k", type=int, default=10, help="outfits per list (default 10)")
    parser.add_argument("--shortlist", type=int, default=40, help="compose: garments kept per slot (default 40)")
    parser.add_argument("--beam", type=int, default=64, help="compose: partial outfits kept per slot (default 64)")
    parser.add_argument("--exhaustive_limit", type=int, default=20_000,
                        help="compose: score every combination up to this many (default 20000)")
    parser.add_argument("--trust_checkpoint", action="store_true",
                        help="load a checkpoint that needs full unpickling (only a file you trust)")
    parser.add_argument("--gpu_id", default=None, help="GPU to use (default: the saved run's; '' = CPU)")
    return parser


if __name__ == "__main__":  # --help and a wrong argument answer before the imports below load torch
    build_parser().parse_args()
    loading("RecBole, torch and the web framework")

from recbole_outfit.recommend.recommender import load_recommender
from recbole_outfit.serve.app import MAX_K, create_app


def load_app(args):
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise ConfigError(f"the page needs {error.name}", where="serve",
                          fix='pip install "recbole-outfit[serve]" (FastAPI, Jinja2, uvicorn)') from error
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1..65535, got {args.port}", where="--port")
    if not 1 <= args.k <= MAX_K:
        raise ConfigError(f"--k must be between 1 and {MAX_K}, got {args.k}", where="--k")
    overrides = {} if args.gpu_id is None else {"gpu_id": args.gpu_id}
    if args.trust_checkpoint:
        overrides["trust_checkpoint"] = True
    rec = load_recommender(args.checkpoint, config_dict=overrides, shortlist=args.shortlist, beam=args.beam,
                           exhaustive_limit=args.exhaustive_limit)
    return create_app(rec, k=args.k)


@exits_2_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    app = load_app(args)
    import uvicorn

    print(f"serving on http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
