"""The web app: FastAPI with server-rendered Jinja2 templates (no front-end build, no JavaScript needed), and a
JSON API beside it (``serve.api``, documented at ``/docs``).

Pages (every parameter validated; an unknown user, outfit or garment is a 404 page, a malformed parameter or a
refused upload a 400 page, never a traceback):

* ``GET /?q=&page=`` - the users (search by id, paged), each with a thumbnail of their top outfit;
* ``GET /users/{user_id}?k=`` - the user's training outfits, the top-k catalogue outfits and the top-k
  outfits composed from the garment catalogue, as images with scores, and a form to score uploaded photos;
* ``POST /users/{user_id}/score`` - the score of an outfit of uploaded photos (multipart);
* ``GET /new?liked=ID&q=&page=&k=&strategy=`` - a new user: the whole catalogue to pick from (searchable by
  outfit or garment id, paged); with ``liked`` given, the cold-start recommendations (Eq. 20-24) on top;
* ``POST /new`` - the same with an outfit of uploaded photos liked too (multipart);
* ``GET /images/{garment_id}.png`` - a garment's image from the dataset's image store (read-only), or an
  uploaded photo's (``photo:<hash>``) while the model keeps it.

Model work runs on one model thread (``serve.model_worker``); images and searches of the static tables run on
their own threads, so they never wait behind the model. Each request is logged (method, path, status, ms).
"""

import io
import logging
import os
import time

from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.cold_start import STRATEGIES
from recbole_outfit.recommend import UnknownIdError
from recbole_outfit.serve.api import build_router
from recbole_outfit.serve.model_worker import Workers
from recbole_outfit.serve.uploads import UploadLimits, read_photos

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
USERS_PER_PAGE = 48
MAX_K = 50
CHOICES = 24  # outfits per page of the new-user picker
STRATEGY_NOTES = {
    "wavg": "the warm users most similar to you (by their scores for your liked outfits, Eq. 20-21), weighted by a "
            "softmax of that similarity (Eq. 23-24)",
    "avg": "the warm users similar to you (Eq. 20-21), averaged with equal weights (Eq. 22)",
    "mean": "every warm user averaged: a popularity baseline that ignores what you liked",
}
SCORE_NOTE = ("Score: cos(user embedding, outfit representation) (Eq. 9), from -1 to 1; only the order matters, "
              "and near-equal scores mean the model sees little difference.")
log = logging.getLogger("recbole_outfit.serve")


def create_app(rec, k=10, choices=CHOICES, limits=None, image_threads=2):
    """The FastAPI app for a loaded :class:`Recommender` ``rec``; ``k``: default list length; ``choices``:
    outfits per page of the new-user picker; ``limits``: :class:`~recbole_outfit.serve.uploads.UploadLimits`."""
    from fastapi import FastAPI, File, Form, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from fastapi.templating import Jinja2Templates
    from starlette.exceptions import HTTPException

    limits = limits or UploadLimits()
    templates = Jinja2Templates(directory=TEMPLATES)
    workers = Workers(image_threads=image_threads)
    title = f"{rec.config['model']} on {rec.config['dataset']}"
    app = FastAPI(title=f"recbole-outfit: {title}", version="1",
                  description="Outfit recommendations of a trained recbole-outfit model. " + SCORE_NOTE,
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    app.state.workers = workers
    catalogue = [(token, " ".join(rec.outfit(token)["garments"]).lower())
                 for token in rec.outfit_tokens[1:]]  # the picker's search table, built once
    top_outfit = {}  # user -> their top catalogue outfit (home page thumbnails), filled on first view

    def page(request, name, status=200, **context):
        return templates.TemplateResponse(request, name, {"title": title, "score_note": SCORE_NOTE, **context},
                                          status_code=status)

    def is_api(request):
        return request.url.path.startswith("/api/")

    def error_response(request, status, message, error=None):
        if is_api(request):
            body = {"status": status, "what": getattr(error, "what", None) or message,
                    "where": getattr(error, "where", None), "fix": getattr(error, "fix", None)}
            return JSONResponse({"error": body}, status_code=status)
        return page(request, "error.html", status=status, status_code=status, message=message)

    def check_k(value):
        if not 1 <= value <= MAX_K:
            raise ConfigError(f"k must be between 1 and {MAX_K}, got {value}", where="k")
        return value

    @app.middleware("http")
    async def log_requests(request, call_next):
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            log.info(f"{request.method} {request.url.path} {status} {1000 * (time.perf_counter() - started):.1f} ms")

    @app.exception_handler(UnknownIdError)
    async def unknown(request: Request, error: UnknownIdError):
        return error_response(request, 404, f"Unknown {error.kind} {error.token!r}.", error)

    @app.exception_handler(ConfigError)
    async def bad_value(request: Request, error: ConfigError):
        return error_response(request, 400, str(error), error)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                             for e in error.errors())
        if is_api(request):
            return JSONResponse({"error": {"status": 400, "what": f"malformed request ({problems})",
                                           "where": ", ".join(".".join(str(p) for p in e.get("loc", ()))
                                                              for e in error.errors()),
                                           "fix": "see the schema at /docs"}}, status_code=400)
        return error_response(request, 400, f"Malformed request ({problems}).")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        message = "No such page." if error.status_code == 404 else str(error.detail)
        if is_api(request):
            return JSONResponse({"error": {"status": error.status_code, "what": message, "where": request.url.path,
                                           "fix": "see /docs for the API"}}, status_code=error.status_code)
        return page(request, "error.html", status=error.status_code, status_code=error.status_code, message=message)

    app.include_router(build_router(rec, workers, k, MAX_K, limits, check_k))

    # ------------------------------------------------------------------ pages

    def home_rows(shown):
        missing = [u for u in shown if u not in top_outfit]
        for record in rec.rank_all(missing, k=1):
            best = record["outfits"][0] if record["outfits"] else None
            top_outfit[record["user"]] = dict(rec.outfit(best), score=record["scores"][0]) if best else None
        return [{"user": u, "outfits": len(rec.known_outfits(u)), "top": top_outfit[u]} for u in shown]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request, page_number: int = Query(1, alias="page", ge=1), q: str = Query("")):
        users = [u for u in rec.users() if q.lower() in u.lower()] if q else rec.users()
        pages = max(1, -(-len(users) // USERS_PER_PAGE))
        if page_number > pages:
            raise HTTPException(404)
        shown = users[(page_number - 1) * USERS_PER_PAGE: page_number * USERS_PER_PAGE]
        rows = await workers.model(home_rows, shown)
        return page(request, "index.html", users=rows, page=page_number, pages=pages, total=len(users),
                    all_users=len(rec.users()), q=q)

    def user_view(user_id, k_value):
        rec.user_id(user_id)
        known = [rec.outfit(o) for o in rec.known_outfits(user_id)]
        return known, rec.rank(user_id, k=k_value), rec.compose(user_id, k=k_value)

    @app.get("/users/{user_id}", response_class=HTMLResponse, include_in_schema=False)
    async def user(request: Request, user_id: str, k_value: int = Query(k, alias="k")):
        check_k(k_value)
        known, ranked, composed = await workers.model(user_view, user_id, k_value)
        info = composed[0].get("info") if composed else None
        return page(request, "user.html", user=user_id, known=known, ranked=ranked, composed=composed, info=info,
                    k=k_value, limits=limits)

    @app.post("/users/{user_id}/score", response_class=HTMLResponse, include_in_schema=False)
    async def user_score(request: Request, user_id: str, photos: list[UploadFile] = File([])):
        data = await read_photos(photos, limits)
        if not data:
            raise ConfigError("no photo uploaded", where="photos", fix="choose one or more image files")
        scored = await workers.model(rec.score_outfits, user_id, [tuple(data)])
        return page(request, "scored.html", user=user_id, scored=scored)

    def picker(q, page_number, per_page):
        needle = q.strip().lower()
        found = [t for t, garments in catalogue if needle in t.lower() or needle in garments] if needle else \
            [t for t, _ in catalogue]
        pages = max(1, -(-len(found) // per_page))
        if page_number > pages:
            raise ConfigError(f"page {page_number} of {pages}", where="page", fix=f"ask for a page from 1 to {pages}")
        return found[(page_number - 1) * per_page: page_number * per_page], len(found), pages

    @app.get("/new", response_class=HTMLResponse, include_in_schema=False)
    async def new_user(request: Request, liked: list[str] = Query([]), k_value: int = Query(k, alias="k"),
                       strategy: str = Query("wavg"), q: str = Query(""),
                       page_number: int = Query(1, alias="page", ge=1)):
        check_k(k_value)
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {strategy!r}", where="strategy", fix=f"use one of {STRATEGIES}")
        liked = list(dict.fromkeys(liked))
        for outfit in liked:
            rec.outfit_id(outfit)
        shown, found, pages = await workers.images(picker, q, page_number, choices)
        choices_ = [dict(rec.outfit(o), checked=o in liked) for o in shown]
        hidden = [o for o in liked if o not in set(shown)]
        results = await workers.model(rec.cold_user, liked, k=k_value, strategy=strategy) if liked else []
        return page(request, "new.html", choices=choices_, liked=liked, hidden=hidden, results=results, k=k_value,
                    strategy=strategy, strategies=STRATEGIES, notes=STRATEGY_NOTES, q=q, page=page_number,
                    pages=pages, found=found)

    @app.post("/new", response_class=HTMLResponse, include_in_schema=False)
    async def new_user_photos(request: Request, photos: list[UploadFile] = File([]), liked: list[str] = Form([]),
                              k_value: int = Form(k, alias="k"), strategy: str = Form("wavg")):
        """The new-user view with an outfit of uploaded photos liked beside the ticked outfits."""
        check_k(k_value)
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {strategy!r}", where="strategy", fix=f"use one of {STRATEGIES}")
        data = await read_photos(photos, limits)
        if not data:
            raise ConfigError("no photo uploaded", where="photos", fix="choose one or more image files")
        liked = list(dict.fromkeys(liked))
        for outfit in liked:
            rec.outfit_id(outfit)
        shown, found, pages = await workers.images(picker, "", 1, choices)

        def work():
            tokens = rec.add_photos(data)
            return tokens, rec.cold_user(liked + [tuple(data)], k=k_value, strategy=strategy)

        photo_tokens, results = await workers.model(work)
        choices_ = [dict(rec.outfit(o), checked=o in liked) for o in shown]
        return page(request, "new.html", choices=choices_, liked=liked, hidden=[o for o in liked if o not in shown],
                    results=results, k=k_value, strategy=strategy, strategies=STRATEGIES, notes=STRATEGY_NOTES,
                    q="", page=1, pages=pages, found=found,
                    photo_outfit={"outfit": None, "garments": photo_tokens, "categories": ["photo"] * len(data)})

    png_cache = {}

    def png(garment):
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(rec.garment_image(garment)).save(buffer, format="PNG")
        data = buffer.getvalue()
        if not garment.startswith("photo:"):
            if len(png_cache) >= 8192:
                png_cache.clear()
            png_cache[garment] = data
        return data

    @app.get("/images/{garment_id}.png", include_in_schema=False)
    async def image(garment_id: str):
        data = png_cache.get(garment_id)
        if data is None:
            data = await workers.images(png, garment_id)  # the store's memory map: no model, no model thread
        return Response(data, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})

    @app.on_event("shutdown")
    def stop_workers():
        workers.shutdown()

    return app
