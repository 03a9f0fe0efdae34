"""Serve a trained checkpoint as a web page (binds to 127.0.0.1 unless told otherwise).

    python -m recbole_outfit.serve --checkpoint PATH [--port 8000] [--host 127.0.0.1] [--k 10]

Needs the ``serve`` extra (FastAPI, Jinja2, uvicorn, python-multipart). A bad checkpoint or option, or a port
already taken, is one paragraph and exit 2; the port is taken (bound) before the checkpoint loads, and handed
to uvicorn, so nothing else can take it in between. The JSON API is documented at ``/docs``. Each request is
logged on stdout (method, path, status, milliseconds); ``--quiet`` turns that off.
"""

import argparse
import errno
import logging
import socket
import sys
import time

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
    parser.add_argument("--max_upload_mb", type=float, default=8, help="largest uploaded photo, MiB (default 8)")
    parser.add_argument("--max_upload_pixels", type=int, default=25_000_000,
                        help="largest uploaded photo, width x height (default 25,000,000)")
    parser.add_argument("--max_uploads", type=int, default=8, help="photos per request (default 8)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def bind(host, port):
    """A listening socket on ``host:port``, or a ConfigError when the port is taken or the address unusable."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart may reuse TIME_WAIT
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use", where="--port",
                              fix="stop the program using it or choose another port, e.g. --port "
                                  f"{port + 1 if port < 65535 else 8000}") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror})", where="--host / --port",
                          fix="use an address of this machine, e.g. --host 127.0.0.1") from None
    sock.set_inheritable(True)
    return sock


def check_port(args):
    """The port's range and availability (bound, then released): run before torch loads."""
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1..65535, got {args.port}", where="--port")
    bind(args.host, args.port).close()


@exits_2_on_user_error
def answer_early():
    check_port(build_parser().parse_args())
    return 0


if __name__ == "__main__":  # --help, a wrong argument and a taken port answer before the imports below load torch
    if answer_early():
        sys.exit(2)
    loading("RecBole, torch and the web framework")

from recbole_outfit.recommend.recommender import load_recommender
from recbole_outfit.serve.app import MAX_K, create_app
from recbole_outfit.serve.uploads import UploadLimits


def load_app(args):
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import multipart  # noqa: F401 (python-multipart: FastAPI's uploads)
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise ConfigError(f"the page needs {error.name}", where="serve",
                          fix='pip install "recbole-outfit[serve]" (FastAPI, Jinja2, uvicorn, python-multipart)') \
            from error
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be 1..65535, got {args.port}", where="--port")
    if not 1 <= args.k <= MAX_K:
        raise ConfigError(f"--k must be between 1 and {MAX_K}, got {args.k}", where="--k")
    if args.max_upload_mb <= 0 or args.max_upload_pixels < 1 or args.max_uploads < 1:
        raise ConfigError("upload limits must be positive", where="--max_upload_mb / --max_upload_pixels / "
                                                                   "--max_uploads")
    overrides = {} if args.gpu_id is None else {"gpu_id": args.gpu_id}
    if args.trust_checkpoint:
        overrides["trust_checkpoint"] = True
    started = time.time()
    print(f"loading {args.checkpoint} (the model, its dataset and image store) ...", flush=True)
    rec = load_recommender(args.checkpoint, config_dict=overrides, shortlist=args.shortlist, beam=args.beam,
                           exhaustive_limit=args.exhaustive_limit,
                           max_photo_pixels=args.max_upload_pixels)
    print(f"loaded {rec.config['model']} on {rec.config['dataset']} in {time.time() - started:.1f}s; encoding "
          f"{len(rec.outfit_tokens) - 1} outfits of {len(rec.garment_tokens) - 1} garments ...", flush=True)
    started = time.time()
    rec.outfit_vectors()
    print(f"encoded in {time.time() - started:.1f}s", flush=True)
    limits = UploadLimits(max_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_upload_pixels,
                          max_files=args.max_uploads)
    return create_app(rec, k=args.k, limits=limits)


def log_requests_to_stdout():
    logger = logging.getLogger("recbole_outfit.serve")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@exits_2_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    check_port(args)
    sock = bind(args.host, args.port)  # held from before the long load until uvicorn serves on it
    try:
        app = load_app(args)
        import uvicorn

        if not args.quiet:
            log_requests_to_stdout()
        print(f"serving on http://{args.host}:{args.port}/ (API documented at /docs)", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
