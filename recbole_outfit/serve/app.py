"""The web app: FastAPI with server-rendered Jinja2 templates (no front-end build, no JavaScript needed).

Routes (every parameter validated; an unknown user, outfit or garment is a 404 page, a malformed parameter a
400 page, never a traceback):

* ``GET /`` - the users of the training data (paged), each linking to its page;
* ``GET /users/{user_id}?k=`` - the user's training outfits, the top-k catalogue outfits and the top-k
  outfits composed from the garment catalogue, as images with scores;
* ``GET /new?liked=ID&liked=ID&k=&strategy=`` - a new user: a set of outfits to click (checkboxes in a
  form); with ``liked`` given, the cold-start recommendations through the warm users (Eq. 20-24);
* ``GET /images/{garment_id}.png`` - a garment's image from the dataset's image store (read-only).

The app holds one :class:`~recbole_outfit.recommend.Recommender`; requests use it one at a time (a lock), so
its caches are filled once and shared.
"""

import io
import os
import threading
from functools import lru_cache

import numpy as np

from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.cold_start import STRATEGIES
from recbole_outfit.recommend import UnknownIdError

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
USERS_PER_PAGE = 100
MAX_K = 50
CHOICES = 24  # outfits offered to click in the new-user view


def create_app(rec, k=10, choices=CHOICES, seed=0):
    """The FastAPI app for a loaded :class:`Recommender` ``rec``; ``k``: default list length."""
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, Response
    from fastapi.templating import Jinja2Templates
    from starlette.exceptions import HTTPException

    templates = Jinja2Templates(directory=TEMPLATES)
    lock = threading.Lock()
    title = f"{rec.config['model']} on {rec.config['dataset']}"
    app = FastAPI(title=f"recbole-outfit: {title}", docs_url=None, redoc_url=None, openapi_url=None)
    # the outfits offered in the new-user view: a fixed draw of training positives (seeded)
    rng = np.random.default_rng(seed)
    offered_pool = sorted({o for u in rec.users() for o in rec.known_outfits(u)})
    offered = [offered_pool[i] for i in sorted(rng.choice(len(offered_pool), size=min(choices, len(offered_pool)),
                                                          replace=False))]

    def page(request, name, status=200, **context):
        return templates.TemplateResponse(request, name, {"title": title, **context}, status_code=status)

    def error_page(request, status, message):
        return page(request, "error.html", status=status, status_code=status, message=message)

    def check_k(value):
        if not 1 <= value <= MAX_K:
            raise ConfigError(f"k must be between 1 and {MAX_K}, got {value}", where="k")
        return value

    @app.exception_handler(UnknownIdError)
    async def unknown(request: Request, error: UnknownIdError):
        return error_page(request, 404, f"Unknown {error.kind} {error.token!r}.")

    @app.exception_handler(ConfigError)
    async def bad_value(request: Request, error: ConfigError):
        return error_page(request, 400, str(error))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                             for e in error.errors())
        return error_page(request, 400, f"Malformed request ({problems}).")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        message = "No such page." if error.status_code == 404 else str(error.detail)
        return error_page(request, error.status_code, message)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, page_number: int = Query(1, alias="page", ge=1)):
        users = rec.users()
        pages = max(1, -(-len(users) // USERS_PER_PAGE))
        if page_number > pages:
            raise HTTPException(404)
        shown = users[(page_number - 1) * USERS_PER_PAGE: page_number * USERS_PER_PAGE]
        rows = [{"user": u, "outfits": len(rec.known_outfits(u))} for u in shown]
        return page(request, "index.html", users=rows, page=page_number, pages=pages, total=len(users))

    @app.get("/users/{user_id}", response_class=HTMLResponse)
    def user(request: Request, user_id: str, k_value: int = Query(k, alias="k")):
        check_k(k_value)
        with lock:
            rec.user_id(user_id)
            known = [rec.outfit(o) for o in rec.known_outfits(user_id)]
            ranked = rec.rank(user_id, k=k_value)
            composed = rec.compose(user_id, k=k_value)
        info = composed[0].get("info") if composed else None
        return page(request, "user.html", user=user_id, known=known, ranked=ranked, composed=composed, info=info,
                    k=k_value)

    @app.get("/new", response_class=HTMLResponse)
    def new_user(request: Request, liked: list[str] = Query([]), k_value: int = Query(k, alias="k"),
                 strategy: str = Query("wavg")):
        check_k(k_value)
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {strategy!r}", where="strategy", fix=f"use one of {STRATEGIES}")
        liked = list(dict.fromkeys(liked))
        with lock:
            shown = list(dict.fromkeys(offered + liked))
            choices_ = [dict(rec.outfit(o), checked=o in liked) for o in shown]
            results = rec.cold_user(liked, k=k_value, strategy=strategy) if liked else []
        return page(request, "new.html", choices=choices_, liked=liked, results=results, k=k_value,
                    strategy=strategy, strategies=STRATEGIES)

    @lru_cache(maxsize=4096)
    def png(garment):
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(rec.garment_image(garment)).save(buffer, format="PNG")
        return buffer.getvalue()

    @app.get("/images/{garment_id}.png")
    def image(garment_id: str):
        with lock:
            data = png(garment_id)
        return Response(data, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})

    return app
