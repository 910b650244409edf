"""The shop as a real web site: a threaded Flask app on 127.0.0.1 (one per catalog, shared).

:func:`acquire` returns the process-wide :class:`ShopServer` of a catalog, starting it on a free
loopback port the first time; every environment calls :func:`release` when it closes, and the
server stops when the last one has (and at interpreter exit or on SIGINT/SIGTERM), so no port is
left open. The reference counting is :class:`agentgym.core.resources.SharedResources`.

Routes (GET and POST both accepted, as a browser submits forms with POST):

=====================================================  ========================================
``/<sid>?goal=<i>&show_attrs=0|1&strict=0|1``          start (or restart) session ``sid``
``/search/<sid>?search_query=<q>``                      the search form; redirects to results
``/search_results/<sid>?q=<q>&page=<n>``                results page ``n`` (top 50, 10 a page)
``/item_page/<sid>/<asin>?q=&page=&options=<json>``     item page
``/item_sub_page/<sid>/<asin>/<Sub>?q=&page=&options=`` Description/Features/Reviews/Attributes
``/done/<sid>/<asin>?options=<json>``                   buy: score the purchase, end the session
``/end/<sid>``                                          forget the session
=====================================================  ========================================

A session holds its goal, its rule set (``strict``: agentgym 0.1's reward and paging instead of the
original's) and, once bought, the score; everything else is in the URL. The environment reads the
score from the session (:meth:`ShopServer.outcome`), never from the page a browser shows.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from agentgym.core.resources import SharedResources
from agentgym.envs.web.webshop import pages
from agentgym.envs.web.webshop.catalog import Catalog
from agentgym.envs.web.webshop.reward import get_reward, heuristic_nouns, vocab_nouns
from agentgym.envs.web.webshop.search import SEARCH_RETURN_N, SearchEngine

#: Sessions kept per server before the oldest are forgotten.
MAX_SESSIONS = 50_000
_MAX_QUERY_CHARS = 500


@dataclass
class Session:
    """Server-side state of one shopping episode."""

    goal_index: int
    show_attrs: bool = False
    strict: bool = False
    done: bool = False
    reward: float = 0.0
    reward_info: dict[str, Any] = field(default_factory=dict)
    bought: tuple[str, dict[str, str]] | None = None


class ShopServer:
    """A threaded HTTP server for one catalog on ``127.0.0.1:<free port>``.

    Args:
        catalog: the products and goals.
        engine: a search engine over ``catalog.products`` (built if omitted).
    """

    def __init__(self, catalog: Catalog, engine: SearchEngine | None = None) -> None:
        self.catalog = catalog
        self.engine = engine if engine is not None else SearchEngine(catalog.products)
        self.nouns = (
            vocab_nouns(catalog.noun_vocab) if catalog.noun_vocab is not None else heuristic_nouns
        )
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self._search_cache: OrderedDict[str, list[int]] = OrderedDict()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43121``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> ShopServer:
        """Bind a free loopback port and serve in a daemon thread."""
        if self._server is not None:
            return self
        from werkzeug.serving import WSGIRequestHandler, make_server

        class _QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server(
            "127.0.0.1", 0, self._build_app(), threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"webshop-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    # -- shop logic --------------------------------------------------------------------------
    def search(self, query: str) -> list[int]:
        """Top product indices for ``query`` (memoized: a group replays the same queries)."""
        with self._lock:
            hit = self._search_cache.get(query)
            if hit is not None:
                self._search_cache.move_to_end(query)
                return hit
        result = self.engine.search(query, SEARCH_RETURN_N)
        with self._lock:
            self._search_cache[query] = result
            while len(self._search_cache) > 4096:
                self._search_cache.popitem(last=False)
        return result

    def new_session(
        self, sid: str, goal_index: int, show_attrs: bool = False, strict: bool = False
    ) -> Session:
        session = Session(
            goal_index=goal_index % len(self.catalog.goals), show_attrs=show_attrs, strict=strict
        )
        with self._lock:
            self.sessions[sid] = session
            self.sessions.move_to_end(sid)
            while len(self.sessions) > MAX_SESSIONS:
                self.sessions.popitem(last=False)
        return session

    def end_session(self, sid: str) -> None:
        with self._lock:
            self.sessions.pop(sid, None)

    def outcome(self, sid: str) -> tuple[float, dict[str, Any]] | None:
        """``(score, reward_info)`` once session ``sid`` has bought, else None."""
        with self._lock:
            session = self.sessions.get(sid)
            if session is None or not session.done:
                return None
            return session.reward, dict(session.reward_info)

    def buy(self, session: Session, asin: str, options: dict[str, str]) -> None:
        """Score buying ``asin`` with ``options`` for the session's goal (once)."""
        if session.done:
            return
        product = self.catalog.by_asin[asin]
        goal = self.catalog.goals[session.goal_index]
        reward, info = get_reward(
            product,
            goal,
            float(product["pricing"][0]),
            options,
            nouns=self.nouns,
            strict=session.strict,
        )
        session.reward, session.reward_info = reward, info
        session.bought = (asin, dict(options))
        session.done = True

    # -- the web app -------------------------------------------------------------------------
    def _build_app(self) -> Any:
        from flask import Flask, Response, redirect, request

        app = Flask("agentgym_webshop")
        catalog = self.catalog

        def html(body: str, status: int = 200) -> Response:
            return Response(body, status=status, mimetype="text/html")

        def not_found(message: str) -> Response:
            return html(pages.message_page("Not found", message), 404)

        def session_of(sid: str) -> Session | None:
            with self._lock:
                return self.sessions.get(sid)

        def nav_args() -> tuple[str, int, dict[str, str]] | None:
            q = request.args.get("q", "")[:_MAX_QUERY_CHARS]
            try:
                page = int(request.args.get("page", "1"))
                options = json.loads(request.args.get("options", "{}"))
            except (ValueError, json.JSONDecodeError):
                return None
            if not isinstance(options, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in options.items()
            ):
                return None
            return q, max(1, page), options

        def instruction(session: Session) -> str:
            return str(catalog.goals[session.goal_index]["instruction_text"])

        @app.route("/<sid>", methods=["GET", "POST"])
        def index(sid: str) -> Response:
            goal = request.args.get("goal")
            session = session_of(sid)
            if goal is not None:
                try:
                    goal_index = int(goal)
                except ValueError:
                    return not_found(f"goal must be an integer, got {goal!r}")
                show = request.args.get("show_attrs", "0") == "1"
                strict = request.args.get("strict", "0") == "1"
                session = self.new_session(sid, goal_index, show, strict)
            if session is None:
                return not_found(f"unknown session {sid!r}; start it with /{sid}?goal=<index>")
            return html(pages.search_page(sid, instruction(session)))

        @app.route("/search/<sid>", methods=["GET", "POST"])
        def search_form(sid: str) -> Response:
            q = (request.values.get("search_query") or "").strip()[:_MAX_QUERY_CHARS]
            return redirect(pages.results_url(sid, q, 1), code=303)

        @app.route("/search_results/<sid>", methods=["GET", "POST"])
        def search_results(sid: str) -> Response:
            session, nav = session_of(sid), nav_args()
            if session is None or nav is None:
                return not_found("unknown session or malformed page address")
            q, page, _ = nav
            hits = self.search(q.lower())
            shown = hits[(page - 1) * pages.PRODUCT_WINDOW : page * pages.PRODUCT_WINDOW]
            products = [catalog.products[i] for i in shown]
            return html(
                pages.results_page(
                    sid,
                    instruction(session),
                    q,
                    page,
                    products,
                    len(hits),
                    always_next=not session.strict,
                )
            )

        @app.route("/item_page/<sid>/<asin>", methods=["GET", "POST"])
        def item_page(sid: str, asin: str) -> Response:
            session, nav = session_of(sid), nav_args()
            product = catalog.by_asin.get(asin)
            if session is None or nav is None or product is None:
                return not_found("unknown session, product or malformed page address")
            q, page, options = nav
            return html(
                pages.item_page(
                    sid, instruction(session), product, q, page, options, session.show_attrs
                )
            )

        @app.route("/item_sub_page/<sid>/<asin>/<sub>", methods=["GET", "POST"])
        def item_sub_page(sid: str, asin: str, sub: str) -> Response:
            session, nav = session_of(sid), nav_args()
            product = catalog.by_asin.get(asin)
            if session is None or nav is None or product is None or sub not in pages.SUB_PAGES:
                return not_found("unknown session, product, sub-page or malformed address")
            q, page, options = nav
            return html(pages.sub_page(sid, instruction(session), product, sub, q, page, options))

        @app.route("/done/<sid>/<asin>", methods=["GET", "POST"])
        def done(sid: str, asin: str) -> Response:
            session, nav = session_of(sid), nav_args()
            if session is None or nav is None or asin not in catalog.by_asin:
                return not_found("unknown session, product or malformed page address")
            self.buy(session, asin, nav[2])
            bought_asin, bought_options = session.bought or (asin, nav[2])
            return html(pages.done_page(bought_asin, bought_options, session.reward))

        @app.route("/end/<sid>", methods=["GET", "POST"])
        def end(sid: str) -> Response:
            self.end_session(sid)
            return Response("ok", mimetype="text/plain")

        return app

    def start_url(
        self, sid: str, goal_index: int, show_attrs: bool = False, strict: bool = False
    ) -> str:
        """The URL that starts session ``sid`` on goal ``goal_index``."""
        return (
            f"{self.url}/{quote(sid)}?goal={goal_index}&show_attrs={int(show_attrs)}"
            f"&strict={int(strict)}"
        )


# -- process-wide shared servers --------------------------------------------------------------
_SERVERS: SharedResources[ShopServer] = SharedResources(close=lambda server: server.stop())
_ENGINES_LOCK = threading.Lock()
#: Search indexes outlive their server (a restart reuses them); at most a few catalogs.
_ENGINES: OrderedDict[Any, tuple[Catalog, SearchEngine]] = OrderedDict()


def _engine(key: Any, catalog_factory: Callable[[], Catalog]) -> tuple[Catalog, SearchEngine]:
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            catalog = catalog_factory()
            _ENGINES[key] = (catalog, SearchEngine(catalog.products))
            while len(_ENGINES) > 4:
                _ENGINES.popitem(last=False)
        return _ENGINES[key]


def acquire(key: Any, catalog_factory: Callable[[], Catalog]) -> ShopServer:
    """The running shared server for ``key`` (made with ``catalog_factory()`` if needed);
    pair every call with :func:`release`."""
    return _SERVERS.acquire(key, lambda: ShopServer(*_engine(key, catalog_factory)).start())


def release(key: Any) -> None:
    """Drop one reference to the shared server of ``key``; the last one stops it."""
    _SERVERS.release(key)


def running_servers() -> list[ShopServer]:
    """The shared servers currently running (for tests and diagnostics)."""
    return _SERVERS.live()
