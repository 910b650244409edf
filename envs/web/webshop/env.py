"""``agentgym/WebShop-v0``: shop on a web site served over HTTP, in text (princeton-nlp/WebShop).

The environment starts (or shares) the shop server of its catalog on 127.0.0.1
(:mod:`~agentgym.envs.web.webshop.server`), opens a session for the episode's goal and then
fetches and parses the same HTML pages a browser would show (:mod:`.html_text`). Actions are
the original's:

* ``search[query]`` — type ``query`` into the search box (only on the search page);
* ``click[x]`` — click a button by its text (``back to search``, ``next >``, ``< prev``,
  ``description``, ``features``, ``reviews``, ``attributes``, ``buy now``), a product by its id
  (``b0abc12345``) or an option by its value (``navy blue``); case-insensitive.

Anything else (empty, junk, unknown buttons, a product id not on the page) is an invalid action:
the page does not change and the observation starts with ``Invalid action: <why>``.

Clicking ``Buy Now`` ends the episode with the original score in [0, 1] (:mod:`.reward`):
``reward_mode="score"`` pays that score (reward part ``score``); ``reward_mode="success"`` pays
verl-agent's training reward, 10 if the score is 1.0 else 0 (part ``success``); the raw score is
always ``info["task_score"]`` and its terms ``info["reward_info"]``.

Observation modes (``observation_mode``): ``text`` (visible strings joined by `` [SEP] ``, plus
the available actions when ``list_actions``), ``text_rich`` (buttons and options marked),
``html`` and ``url``. The episode's session id is written ``<session>`` in ``html`` and ``url``
observations so that the same seed gives the same observation.

``state_key`` is the page, query, results page, product, sub-page and selected options (from the
URL), so repeated visits to a page are the same anchor state for GiGPO.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agentgym.core.env import TextEnv
from agentgym.envs.web.webshop import server as shop_server
from agentgym.envs.web.webshop.catalog import Catalog, generate_catalog
from agentgym.envs.web.webshop.html_text import Clickable, ParsedPage, parse_page

#: Longest action accepted (characters); longer ones are invalid.
MAX_ACTION_CHARS = 1000
#: Longest search query accepted (characters).
MAX_QUERY_CHARS = 500
#: Results pages the expert looks through before searching by title.
EXPERT_MAX_PAGES = 5
#: verl-agent's reward for a perfect purchase under ``reward_mode="success"``.
SUCCESS_REWARD = 10.0

_ACTION = re.compile(r"^\s*(search|click)\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e]*$")
_OBS_MODES = ("text", "text_rich", "html", "url")


def _echo(action: Any) -> str:
    text = action if isinstance(action, str) else repr(action)
    return repr(text[:40]) + (f"... ({len(text)} characters)" if len(text) > 40 else "")


def catalog_key(
    *, data_path: str | None, num_products: int, catalog_seed: int, num_goals: int
) -> tuple[Any, ...]:
    """The key that identifies (and shares) a shop server."""
    if data_path is not None:
        return ("files", str(data_path), num_products)
    return ("generated", int(num_products), int(catalog_seed), int(num_goals))


def load_catalog(key: tuple[Any, ...]) -> Catalog:
    """Build the catalog named by :func:`catalog_key`."""
    if key[0] == "files":
        from agentgym.envs.web.webshop.loader import load_original

        return load_original(key[1], num_products=key[2] or None)
    _, n, seed, goals = key
    return generate_catalog(n, seed, goals)


def _option_values(goal_options: Any) -> list[str]:
    return list(goal_options.values()) if isinstance(goal_options, Mapping) else list(goal_options)


def _target_options(goal: Mapping[str, Any], product: Mapping[str, Any]) -> dict[str, str]:
    """Option name -> value the expert selects: the goal's options (a dict for generated goals;
    a list of values for the original human goals, matched to the product's option names)."""
    wanted = goal["goal_options"]
    if isinstance(wanted, Mapping):
        return dict(wanted)
    target: dict[str, str] = {}
    for name, values in product.get("options", {}).items():
        for value in wanted:
            if value in values:
                target[name] = value
                break
    return target


class _HttpDriver:
    """Follows links and submits forms over HTTP (``requests`` with keep-alive)."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url
        self._http = requests.Session()

    def _fetch(self, method: str, url: str, **kwargs: Any) -> tuple[str, str]:
        response = self._http.request(method, self.base_url + url, timeout=30, **kwargs)
        response.raise_for_status()
        return response.url[len(self.base_url) :], response.text

    def open(self, url: str) -> tuple[str, str]:
        return self._fetch("GET", url)

    def search(self, action_url: str, query: str) -> tuple[str, str]:
        return self._fetch("GET", action_url, params={"search_query": query})

    def click(self, clickable: Clickable) -> tuple[str, str]:
        return self._fetch(clickable.method, clickable.url)

    def close(self) -> None:
        self._http.close()


class WebShopEnv(TextEnv):
    """WebShop in text: search, browse and buy the product an instruction asks for.

    Args:
        observation_mode: ``text`` | ``text_rich`` | ``html`` | ``url``.
        reward_mode: ``score`` (the original score on buying) or ``success`` (10 if the score is
            1.0, else 0; verl-agent's training reward).
        split: goals to draw from: ``train`` (500+), ``test`` (0–499) or ``all``.
        num_products: catalog size (generated catalog) or the number of products to load.
        catalog_seed: seed of the generated catalog.
        num_goals: number of generated goals (one per product, capped at ``num_products``).
        data_path: a folder with the original WebShop files (``items_shuffle*.json``,
            ``items_ins_v2*.json``, ``items_human_ins.json``); ``None`` generates a catalog.
        show_attrs: show the ``Attributes`` button on item pages (off in the original).
        list_actions: append the available actions to ``text`` observations.
        reward_weights: weights of the reward parts (see :class:`TextEnv`).
        render_mode: ``None`` or ``"ansi"``.
    """

    def __init__(
        self,
        *,
        observation_mode: str = "text",
        reward_mode: str = "score",
        split: str = "train",
        num_products: int = 10_000,
        catalog_seed: int = 0,
        num_goals: int = 6_000,
        data_path: str | None = None,
        show_attrs: bool = False,
        list_actions: bool = True,
        reward_weights: Mapping[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(reward_weights=reward_weights, render_mode=render_mode)
        if observation_mode not in _OBS_MODES:
            raise ValueError(
                f"observation_mode must be one of {_OBS_MODES}, not {observation_mode!r}"
            )
        if reward_mode not in ("score", "success"):
            raise ValueError(f"reward_mode must be 'score' or 'success', not {reward_mode!r}")
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
        self.observation_mode = observation_mode
        self.reward_mode = reward_mode
        self.split = split
        self.show_attrs = show_attrs
        self.list_actions = list_actions
        self._key = catalog_key(
            data_path=data_path,
            num_products=num_products,
            catalog_seed=catalog_seed,
            num_goals=num_goals,
        )
        self._server: shop_server.ShopServer | None = None
        self._driver: Any = None
        self._finalizer: weakref.finalize | None = None
        self._sid = ""
        self._url = ""
        self._html = ""
        self._page = ParsedPage()
        self._goal: dict[str, Any] = {}
        self._goal_index = -1
        self._done = False
        self._searches = 0

    # -- plumbing ----------------------------------------------------------------------------
    def _ensure_server(self) -> shop_server.ShopServer:
        if self._server is None:
            key = self._key
            self._server = shop_server.acquire(key, lambda: load_catalog(key))
            self._finalizer = weakref.finalize(self, shop_server.release, key)
            self._driver = self._make_driver(self._server.url)
        return self._server

    def _make_driver(self, base_url: str) -> Any:
        return _HttpDriver(base_url)

    @property
    def catalog(self) -> Catalog:
        """The shop's catalog (starts the server if needed)."""
        return self._ensure_server().catalog

    def close(self) -> None:
        if self._driver is not None:
            if self._sid and self._server is not None and self._server.running:
                self._server.end_session(self._sid)
            self._driver.close()
            self._driver = None
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._server = None
        super().close()

    def _load(self, url: str, html: str) -> None:
        self._url, self._html = url, html
        self._page = parse_page(html)

    # -- observations and state --------------------------------------------------------------
    def _public(self, text: str) -> str:
        return text.replace(self._sid, "<session>") if self._sid else text

    def _text_observation(self) -> str:
        if self.observation_mode == "html":
            return self._public(self._html)
        if self.observation_mode == "url":
            return self._public(self._url)
        if self.observation_mode == "text_rich":
            return self._page.text_rich()
        text = self._page.text()
        if self.list_actions and not self._done:
            text += "\n\nAvailable actions: " + ", ".join(self.admissible_actions())
        return text

    def _observation(self) -> Any:
        return self._text_observation()

    def _invalid_observation(self, message: str) -> Any:
        return f"Invalid action: {message}\n\n{self._text_observation()}"

    def _location(self) -> dict[str, Any]:
        """The page kind and navigation state of the current URL."""
        parts = urlsplit(self._url)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        kind = "search" if len(segments) <= 1 else segments[0]
        try:
            options = json.loads(query.get("options", "{}"))
        except json.JSONDecodeError:
            options = {}
        return {
            "kind": kind,
            "asin": segments[2] if len(segments) > 2 else "",
            "sub": segments[3].lower() if len(segments) > 3 else "",
            "q": query.get("q", ""),
            "page": int(query["page"]) if query.get("page", "").isdigit() else 1,
            "options": options if isinstance(options, dict) else {},
        }

    def state_key(self) -> str:
        """Page, query, results page, product, sub-page and selected options of the URL."""
        loc = self._location()
        kind = loc["kind"]
        opts = json.dumps(loc["options"], sort_keys=True)
        if kind == "search":
            return "search"
        if kind == "search_results":
            return f"results|q={loc['q']}|page={loc['page']}"
        if kind == "item_page":
            return f"item|{loc['asin']}|q={loc['q']}|page={loc['page']}|{opts}"
        if kind == "item_sub_page":
            return f"{loc['sub']}|{loc['asin']}|q={loc['q']}|page={loc['page']}|{opts}"
        if kind == "done":
            return f"done|{loc['asin']}|{opts}"
        return kind

    def admissible_actions(self) -> list[str]:
        """Valid actions on the current page (``search[<your query>]`` stands for any query)."""
        if self._done:
            return []
        actions = ["search[<your query>]"] if self._page.search_action is not None else []
        actions += [f"click[{key}]" for key in self._page.clickables if key != "search"]
        return actions

    # -- gymnasium API -----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        server = self._ensure_server()
        goals = server.catalog.split(self.split)
        options = options or {}
        if "goal_index" in options:
            goal_index = int(options["goal_index"]) % len(server.catalog.goals)
        elif seed is not None:
            goal_index = goals[seed % len(goals)]
        else:
            goal_index = goals[int(self.np_random.integers(len(goals)))]
        if self._sid:
            server.end_session(self._sid)
        self._sid = uuid.uuid4().hex
        self._goal_index = goal_index
        self._goal = server.catalog.goals[goal_index]
        self._done = False
        self._searches = 0
        start = server.start_url(self._sid, goal_index, self.show_attrs)
        self._load(*self._driver.open(start[len(server.url) :]))
        info = self.reset_info(
            task_id=f"webshop-goal-{goal_index}",
            instruction=str(self._goal["instruction_text"]),
            state_key=self.state_key(),
            answer=str(self._goal["asin"]),
            goal_index=goal_index,
            goal_options=copy.deepcopy(self._goal["goal_options"]),
            admissible_actions=self.admissible_actions(),
        )
        return self._observation(), info

    def _parse_action(self, action: Any) -> tuple[str, Any] | str:
        """``("search", query)`` or ``("click", Clickable)``, or an error message."""
        if not isinstance(action, str):
            return f"actions are strings, got {type(action).__name__}"
        if len(action) > MAX_ACTION_CHARS:
            return f"the action is too long ({len(action)} characters; at most {MAX_ACTION_CHARS})"
        match = _ACTION.match(action)
        if match is None:
            return (
                f"{_echo(action)} is not an action; write search[<query>] or click[<button, "
                "product id or option>]"
            )
        name, arg = match.group(1).lower(), match.group(2).strip()
        if not arg or not _PRINTABLE.match(arg) or "\n" in arg:
            return f"{_echo(action)} has an empty or unprintable argument"
        if name == "search":
            if self._page.search_action is None:
                return "there is no search box on this page; click[back to search] first"
            if len(arg) > MAX_QUERY_CHARS:
                return f"the query is too long (at most {MAX_QUERY_CHARS} characters)"
            return "search", arg.lower()
        key = arg.lower()
        clickable = self._page.clickables.get(key)
        if clickable is None or key == "search":
            if re.fullmatch(r"b0[a-z0-9]{8}", key):
                return f"product {arg.upper()} is not on this page"
            return f"there is no {arg!r} to click on this page"
        return "click", clickable

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._driver is None or not self._sid:
            raise RuntimeError("call reset() before step()")
        zero = {"score": 0.0} if self.reward_mode == "score" else {"success": 0.0}
        if self._done:
            info = self.step_info(
                state_key=self.state_key(), action_valid=False, reward_parts=zero, success=False
            )
            return self._invalid_observation("the episode is over"), 0.0, True, False, info
        parsed = self._parse_action(action)
        if isinstance(parsed, str):
            info = self.step_info(
                state_key=self.state_key(),
                action_valid=False,
                reward_parts=zero,
                success=False,
                message=parsed,
                admissible_actions=self.admissible_actions(),
            )
            return self._invalid_observation(parsed), 0.0, False, False, info
        kind, arg = parsed
        if kind == "search":
            self._searches += 1
            url, html = self._driver.search(self._page.search_action, arg)
        else:
            url, html = self._driver.click(arg)
        self._load(url, html)
        parts = dict(zero)
        extra: dict[str, Any] = {}
        terminated = False
        success = False
        if self._page.reward_info is not None:
            terminated = self._done = True
            score = float(self._page.reward_info.get("reward", 0.0))
            success = score >= 1.0 - 1e-9
            if self.reward_mode == "score":
                parts = {"score": score}
            else:
                parts = {"success": SUCCESS_REWARD if success else 0.0}
            extra = {"task_score": score, "reward_info": dict(self._page.reward_info)}
        info = self.step_info(
            state_key=self.state_key(),
            action_valid=True,
            reward_parts=parts,
            success=success,
            admissible_actions=self.admissible_actions(),
            **extra,
        )
        return self._observation(), self.reward_from_parts(parts), terminated, False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._text_observation()
        return None

    # -- the expert --------------------------------------------------------------------------
    def expert_queries(self) -> list[str]:
        """The expert's searches: the goal's attributes, type and options, then the title."""
        goal = self._goal
        words = [*goal["attributes"], goal["query"], *_option_values(goal["goal_options"])]
        return [" ".join(words).lower(), str(goal["name"]).lower()]

    def expert_action(self) -> str:
        """The next action of an oracle that buys the goal product with the goal options.

        It searches with the goal's words, pages through the results (up to
        :data:`EXPERT_MAX_PAGES`) until the goal product appears, and otherwise searches by the
        product's title; on the product page it selects each goal option, then buys.
        """
        loc = self._location()
        kind = loc["kind"]
        asin = str(self._goal.get("asin", "")).lower()
        clickables = self._page.clickables
        if self._done:
            return "click[buy now]"
        if kind == "search":
            queries = self.expert_queries()
            return f"search[{queries[min(self._searches, len(queries) - 1)]}]"
        if kind == "search_results":
            if asin in clickables:
                return f"click[{asin}]"
            if "next >" in clickables and loc["page"] < EXPERT_MAX_PAGES:
                return "click[next >]"
            return "click[back to search]"
        if kind == "item_page":
            if loc["asin"].lower() != asin:
                return "click[back to search]"
            product = self.catalog.by_asin.get(loc["asin"], {})
            for name, value in _target_options(self._goal, product).items():
                if loc["options"].get(name) != value and value in clickables:
                    return f"click[{value}]"
            return "click[buy now]"
        return "click[< prev]"
