"""The JSON API under ``/api`` (FastAPI; documented by its OpenAPI schema at ``/docs`` and ``/openapi.json``).

* ``GET /api/users`` - the users (``q`` filters by id, paged);
* ``GET /api/users/{user_id}/ranked`` - the user's top-k catalogue outfits (training outfits left out);
* ``GET /api/users/{user_id}/composed`` - the top-k new outfits composed for the user (``fixed=top=ID``);
* ``POST /api/users/{user_id}/score`` - scores of given outfits of garment ids (JSON);
* ``POST /api/users/{user_id}/score/upload`` - scores of outfits of uploaded photos and garment ids (multipart);
* ``POST /api/users/{user_id}/composed/upload`` - outfits composed around uploaded photos (multipart);
* ``GET /api/new`` - a new user's recommendations from outfits they like (Eq. 20-24);
* ``POST /api/new/upload`` - the same from liked outfits given as uploaded photos (multipart).

Every score is Eq. 9, the cosine of the user's embedding and the outfit's representation. Errors are JSON
``{"error": {"status", "what", "where", "fix"}}``, as the command line's one-paragraph errors.
"""

import json
from typing import List, Optional

from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.cold_start import STRATEGIES
from recbole_outfit.serve.uploads import UploadError, read_photos

UPLOAD_REF = "upload:"


def schemas():
    """The API's pydantic models (defined on first use: FastAPI and pydantic belong to the serve extra)."""
    from pydantic import BaseModel, Field

    class Outfit(BaseModel):
        outfit: Optional[str] = Field(None, description="the catalogue outfit id, or null for a new outfit")
        garments: List[str] = Field(description="garment ids; an uploaded photo appears as photo:<hash of its "
                                                "pixels>")
        categories: List[str] = Field(description="the garments' categories ('photo' for a photo of unknown "
                                                  "category)")
        score: float = Field(description="Eq. 9: cos(user embedding, outfit representation), in [-1, 1]")

    class UserRow(BaseModel):
        user: str
        training_outfits: int

    class UsersPage(BaseModel):
        users: List[UserRow]
        total: int = Field(description="users matching q")
        page: int
        pages: int

    class Outfits(BaseModel):
        user: Optional[str] = Field(None, description="the user (null for a new user)")
        outfits: List[Outfit]
        search: Optional[dict] = Field(None, description="composed outfits: method, combinations scored, seconds")

    class ScoreRequest(BaseModel):
        outfits: List[List[str]] = Field(description="outfits as lists of garment ids",
                                         json_schema_extra={"examples": [[["g1", "g2", "g3"]]]})

    class ErrorBody(BaseModel):
        status: int
        what: str
        where: Optional[str] = None
        fix: Optional[str] = None

    class Error(BaseModel):
        error: ErrorBody

    return UsersPage, Outfits, ScoreRequest, Error


def parse_fixed(items, where="fixed"):
    """``["top=ID", ...]`` -> ``{"top": ["ID", ...]}``."""
    fixed = {}
    for item in items:
        category, sep, garment = item.partition("=")
        if not sep or not category.strip() or not garment.strip():
            raise ConfigError(f"{where} {item!r} is not CATEGORY=GARMENT", where=where, fix="e.g. fixed=top=<garment id>")
        fixed.setdefault(category.strip(), []).append(garment.strip())
    return fixed


def with_uploads(value, photos, where):
    """Replace ``upload:N`` by the N-th uploaded photo's bytes (0-based)."""
    if not (isinstance(value, str) and value.startswith(UPLOAD_REF)):
        return value
    number = value[len(UPLOAD_REF):]
    if not number.isdigit() or int(number) >= len(photos):
        raise UploadError(f"{where} names {value!r} but {len(photos)} photo(s) were uploaded", where=where,
                          fix="refer to the uploaded photos as upload:0, upload:1, ... in the order sent")
    return photos[int(number)]


def outfit_list(text, photos):
    """The ``outfits`` form field (JSON list of lists, ``upload:N`` for photos); default: one outfit of every
    uploaded photo."""
    if not text:
        if not photos:
            raise UploadError("no photos and no outfits given", where="photos", fix="upload one or more photos")
        return [tuple(photos)]
    try:
        outfits = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"outfits is not JSON ({error.msg})", where="outfits",
                          fix='e.g. [["upload:0", "upload:1", "<garment id>"]]') from None
    if not isinstance(outfits, list) or not outfits or not all(isinstance(o, list) and o for o in outfits):
        raise ConfigError("outfits must be a non-empty list of non-empty lists", where="outfits",
                          fix='e.g. [["upload:0", "upload:1", "<garment id>"]]')
    return [tuple(with_uploads(g, photos, "outfits") for g in outfit) for outfit in outfits]


def build_router(rec, workers, k_default, max_k, limits, check_k, per_page=50):
    """The ``/api`` routes over ``rec``; model work goes through ``workers.model``."""
    from fastapi import APIRouter, File, Form, Query, UploadFile

    UsersPage, Outfits, ScoreRequest, Error = schemas()
    errors = {400: {"model": Error, "description": "a malformed value or a refused upload"},
              404: {"model": Error, "description": "an unknown user, outfit or garment"}}
    router = APIRouter(prefix="/api", tags=["api"], responses=errors)

    def k_query():
        return Query(k_default, ge=1, le=max_k, description=f"how many outfits (1..{max_k})")

    def users_page(q, page):
        users = [u for u in rec.users() if q.lower() in u.lower()] if q else rec.users()
        pages = max(1, -(-len(users) // per_page))
        if page > pages:
            raise ConfigError(f"page {page} of {pages}", where="page", fix=f"ask for a page from 1 to {pages}")
        shown = users[(page - 1) * per_page: page * per_page]
        return {"users": [{"user": u, "training_outfits": len(rec.known_outfits(u))} for u in shown],
                "total": len(users), "page": page, "pages": pages}

    @router.get("/users", response_model=UsersPage, summary="The users of the training data")
    async def users(q: str = Query("", description="only ids containing this"),
                    page: int = Query(1, ge=1)):
        return await workers.images(users_page, q, page)

    @router.get("/users/{user_id}/ranked", response_model=Outfits, summary="A user's top catalogue outfits")
    async def ranked(user_id: str, k: int = k_query()):
        return {"user": user_id, "outfits": await workers.model(rec.rank, user_id, k=k)}

    @router.get("/users/{user_id}/composed", response_model=Outfits,
                summary="New outfits composed for a user from the garment catalogue")
    async def composed(user_id: str, k: int = k_query(),
                       fixed: List[str] = Query([], description="CATEGORY=GARMENT, kept in every outfit")):
        rows = await workers.model(rec.compose, user_id, k=k, fixed=parse_fixed(fixed))
        return {"user": user_id, "outfits": rows, "search": rows[0].get("info") if rows else None}

    @router.post("/users/{user_id}/score", response_model=Outfits, summary="Scores of given outfits (garment ids)")
    async def score(user_id: str, body: ScoreRequest):
        if not body.outfits:
            raise ConfigError("no outfits given", where="outfits", fix='e.g. {"outfits": [["g1", "g2", "g3"]]}')
        return {"user": user_id, "outfits": await workers.model(rec.score_outfits, user_id,
                                                                [tuple(o) for o in body.outfits])}

    @router.post("/users/{user_id}/score/upload", response_model=Outfits,
                 summary="Scores of outfits of uploaded photos (and garment ids)")
    async def score_upload(user_id: str,
                           photos: List[UploadFile] = File([], description=f"JPEG, PNG or WebP; at most "
                                                           f"{limits.max_files}, {limits.max_bytes // 2**20} MiB "
                                                           f"and {limits.max_pixels:,} pixels each"),
                           outfits: str = Form("", description='JSON list of outfits, photos as "upload:N" (0-based, '
                                                               'in the order sent); default: one outfit of every '
                                                               'photo')):
        data = await read_photos(photos, limits)
        given = outfit_list(outfits, data)
        return {"user": user_id, "outfits": await workers.model(rec.score_outfits, user_id, given)}

    @router.post("/users/{user_id}/composed/upload", response_model=Outfits,
                 summary="Outfits composed around uploaded photos")
    async def composed_upload(user_id: str, photos: List[UploadFile] = File([]),
                              fixed: List[str] = Form([], description="CATEGORY=upload:N or CATEGORY=GARMENT"),
                              k: int = Form(k_default)):
        check_k(k)
        data = await read_photos(photos, limits)
        given = {c: [with_uploads(g, data, "fixed") for g in gs] for c, gs in parse_fixed(fixed).items()}
        rows = await workers.model(rec.compose, user_id, k=k, fixed=given)
        return {"user": user_id, "outfits": rows, "search": rows[0].get("info") if rows else None}

    @router.get("/new", response_model=Outfits, summary="A new user's recommendations from outfits they like")
    async def new_user(liked: List[str] = Query(..., description="outfit ids the new user likes"), k: int = k_query(),
                       strategy: str = Query("wavg", description="wavg: warm users weighted by similarity (Eq. 23-24); "
                                                                 "avg: the similar warm users averaged (Eq. 22); mean: "
                                                                 "every warm user averaged")):
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {strategy!r}", where="strategy", fix=f"use one of {STRATEGIES}")
        rows = await workers.model(rec.cold_user, list(dict.fromkeys(liked)), k=k, strategy=strategy)
        return {"user": None, "outfits": rows}

    @router.post("/new/upload", response_model=Outfits,
                 summary="A new user's recommendations from liked outfits given as photos (and outfit ids)")
    async def new_user_upload(photos: List[UploadFile] = File([]),
                              liked: List[str] = Form([], description="liked outfits: an outfit id, or a JSON list "
                                                                      'of garments, photos as "upload:N"; photos no '
                                                                      "item names make one more liked outfit"),
                              k: int = Form(k_default), strategy: str = Form("wavg")):
        check_k(k)
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {strategy!r}", where="strategy", fix=f"use one of {STRATEGIES}")
        data = await read_photos(photos, limits)
        outfits = [outfit_list(f"[{item}]", data)[0] if item.strip().startswith("[") else item.strip()
                   for item in liked]
        if data and not any(UPLOAD_REF in item for item in liked):
            outfits.append(tuple(data))  # photos no liked item names: one more liked outfit of them all
        if not outfits:
            raise UploadError("no liked outfits and no photos given", where="photos",
                              fix="upload photos of an outfit, or give liked outfit ids")
        rows = await workers.model(rec.cold_user, outfits, k=k, strategy=strategy)
        return {"user": None, "outfits": rows}

    return router
