"""The rating view's API: items to rate and ratings saved to the run directory (`<run>/feedback/`).

- `GET /v1/feedback/items` -> `{"data": [items from items.jsonl], "ratings": {id: latest rating by this rater}}`
  (`?rater=NAME`); 404 when no items were exported (`slm feedback export` writes them).
- `POST /v1/feedback/ratings` with `{"id", "score": 1-5, "preferred": "a"|"b"|"tie", "correction", "rater"}` appends
  one validated line to ratings.jsonl (the same file `slm feedback import` fills and `slm feedback build` reads).

Both sit on the /v1 router, so the server's API key and body-size limit apply to them.

Example:
    add_feedback_routes(v1_router, Path("runs/q/feedback"), read_json)
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from slmkit.common.errors import SlmkitError
from slmkit.eval.feedback import append_rating, load_ratings, read_items, validate_rating
from slmkit.serve.schemas import APIError


def add_feedback_routes(v1: APIRouter, feedback_dir: Path, read_json: Callable[[Request], Awaitable[Any]]) -> None:
    """Add the two routes to the server's /v1 router (its API-key dependency covers them)."""
    items_file, ratings_file = feedback_dir / "items.jsonl", feedback_dir / "ratings.jsonl"
    lock = threading.Lock()  # one writer at a time: lines never interleave

    def items() -> dict[str, dict[str, Any]]:
        if not items_file.is_file():
            raise APIError(404, f"no items to rate: run `slm feedback export` to write {items_file}",
                           "not_found_error")
        try:
            return read_items(items_file)
        except SlmkitError as exc:
            raise APIError(500, str(exc), "server_error") from None

    @v1.get("/feedback/items")
    async def feedback_items(rater: str = "anonymous"):
        loaded = items()
        mine = {item_id: r for (item_id, who), r in load_ratings(ratings_file).items() if who == rater}
        return {"object": "list", "data": list(loaded.values()), "ratings": mine}

    @v1.post("/feedback/ratings")
    async def feedback_rating(request: Request):
        body = await read_json(request)
        if not isinstance(body, dict):
            raise APIError(400, "the body must be a JSON object")
        try:
            rating = validate_rating(body, "rating", items())
        except SlmkitError as exc:
            raise APIError(400, str(exc), param="rating") from None
        if rating is None:
            raise APIError(400, "a rating needs a score, a preference or a correction", param="score")
        with lock:
            append_rating(ratings_file, rating)
        return {"object": "feedback.rating", "saved": rating}
