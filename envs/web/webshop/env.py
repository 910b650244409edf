"""``agentgym/WebShop-v0``: shop on a web site served over HTTP, in text (princeton-nlp/WebShop).

The environment starts (or shares) the shop server of its catalog on 127.0.0.1
(:mod:`~agentgym.envs.web.webshop.server`), opens a session for the episode's goal and then
fetches and parses the same HTML pages a browser would show (:mod:`.html_text`). Actions are
the original's (:mod:`.actions`):

* ``search[query]`` — search for ``query`` (lower-cased), from any page;
* ``click[x]`` — click a button by its text (``back to search``, ``next >``, ``< prev``,
  ``description``, ``features``, ``reviews``, ``attributes``, ``buy now``), a product by its id
  (``b0abc12345``) or an option by its value (``navy blue``); ``x`` is lower-cased first.

The action is parsed as the original parses it: a case-sensitive name directly followed by
``[...]``; text after the last ``]`` is ignored. Anything else — another name, junk, a button,
product or option that is not on the current page — is an invalid action, and as in the original
the page does not change. agentgym's contract adds the reason: ``info["action_valid"]`` is False,
``info["message"]`` says why, and the observation is the unchanged page's observation preceded by
one line ``Invalid action: <why>`` (``invalid_feedback=False`` leaves that line out, so the
observation is exactly the original's unchanged page).

Clicking ``Buy Now`` ends the episode with the original score in [0, 1] (:mod:`.reward`),
computed by the shop server and read from its session record (never from the page):
``reward_mode="score"`` pays that score (reward part ``score``); ``reward_mode="success"`` pays
verl-agent's training reward, 10 if the score is 1.0 else 0 (part ``success``); the raw score is
always ``info["task_score"]`` and its terms ``info["reward_info"]``. The environment has no turn
limit of its own, as the original: the registration's ``max_episode_steps`` (15) and the env
config's ``max_turns`` truncate episodes.

``strict=True`` selects agentgym 0.1's rules instead of the original's: its option reward (exact
sizes, text fallback), its grammar (any case, spaces allowed, ``search`` only on the search page)
and ``Next >`` only while more results follow.

Observation modes (``observation_mode``): ``text`` (visible strings joined by `` [SEP] ``, plus
the available actions when ``list_actions``), ``text_rich`` (buttons and options marked),
``compact`` (a few lower-cased lines per page — numbered results, the chosen options, the
buttons — without the repeated instruction; results are also clicked by their number,
``click[3]``; :mod:`.compact`), ``html`` and ``url``. The
episode's session id is written ``<session>`` in ``html`` and ``url`` observations so that the
same seed gives the same observation.

Experts (``expert``): ``goal`` buys the goal product (searching its title when the goal's words
do not find it); ``first_match`` shops as a reader of the pages can: it searches the instruction
(up to its price clause) and buys the first listed product that satisfies the whole goal, with
the goal's options — the demonstrations a model trained from scratch can imitate. On compact
pages both experts click results by their number.

``state_key`` is the page, query, results page, product, sub-page and selected options (from the
URL), so repeated visits to a page are the same anchor state for GiGPO.

``info["distance_to_goal"]`` (reset and every step) is the number of actions the expert
(:meth:`WebShopEnv.expert_action`) needs from the current page to buy the goal
(:meth:`WebShopEnv.distance_to_goal`): computed from the page's address and the shop's memoized
search, without fetching pages; 0 after buying, None where the expert would not get there.
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

from gymnasium.error import ResetNeeded

from agentgym.core.env import TextEnv, echo_action
from agentgym.envs.web.webshop import pages
from agentgym.envs.web.webshop import server as shop_server
from agentgym.envs.web.webshop.actions import (
    MAX_ACTION_CHARS,
    MAX_QUERY_CHARS,
    argument_problem,
    parse_original,
    parse_strict,
)
from agentgym.envs.web.webshop.catalog import Catalog, generate_catalog
from agentgym.envs.web.webshop.compact import compact_text
from agentgym.envs.web.webshop.html_text import Clickable, ParsedPage, parse_page
from agentgym.envs.web.webshop.reward import get_reward

__all__ = ["MAX_ACTION_CHARS", "MAX_QUERY_CHARS", "SUCCESS_REWARD", "WebShopEnv"]

#: Results pages the expert looks through before searching by title.
EXPERT_MAX_PAGES = 5
#: verl-agent's reward for a perfect purchase under ``reward_mode="success"``.
SUCCESS_REWARD = 10.0

_PRODUCT_ID = re.compile(r"b0[a-z0-9]{8}")
_OBS_MODES = ("text", "text_rich", "compact", "html", "url")
_EXPERTS = ("goal", "first_match")
_PRICE_CLAUSE = re.compile(r",? and price lower than .*$")


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
    """Follows links and submits forms over HTTP (``requests`` with keep-alive).

    The drivers (this one and the browser's) only move between pages; the environment parses
    every page with one parser and the server scores purchases with one scorer.
    """

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url
        self._http = requests.Session()

    def new_episode(self) -> None:
        """Forget what the last episode left in the client (cookies)."""
        self._http.cookies.clear()

    def _fetch(self, method: str, url: str, **kwargs: Any) -> tuple[str, str]:
        response = self._http.request(method, self.base_url + url, timeout=30, **kwargs)
        response.raise_for_status()
        return response.url[len(self.base_url) :], response.text

    def open(self, url: str) -> tuple[str, str]:
        return self._fetch("GET", url)

    def search(self, sid: str, query: str) -> tuple[str, str]:
        return self._fetch("GET", pages.search_form_url(sid), params={"search_query": query})

    def click(self, clickable: Clickable) -> tuple[str, str]:
        return self._fetch(clickable.method, clickable.url)

    def close(self) -> None:
        self._http.close()


class WebShopEnv(TextEnv):
    """WebShop in text: search, browse and buy the product an instruction asks for.

    Args:
        observation_mode: ``text`` | ``text_rich`` | ``compact`` | ``html`` | ``url``.
        expert: the oracle behind :meth:`expert_action`: ``goal`` (buys the goal product) or
            ``first_match`` (buys the first listed product that satisfies the goal).
        reward_mode: ``score`` (the original score on buying) or ``success`` (10 if the score is
            1.0, else 0; verl-agent's training reward).
        split: goals to draw from: ``train`` (500+), ``test`` (0–499) or ``all``.
        num_products: catalog size (generated catalog) or the number of products to load.
        catalog_seed: seed of the generated catalog.
        num_goals: number of generated goals (one per product, capped at ``num_products``).
        data_path: a folder with the original WebShop files (``items_shuffle*.json``,
            ``items_ins_v2*.json``, ``items_human_ins.json``); ``None`` generates a catalog.
        strict: agentgym 0.1's reward, grammar and paging instead of the original's.
        invalid_feedback: start the observation after an invalid action with
            ``Invalid action: <why>`` (False: the unchanged page only, as the original).
        show_attrs: show the ``Attributes`` button on item pages (off in the original).
        list_actions: append the available actions to ``text`` observations.
        reward_weights: weights of the reward parts (see :class:`TextEnv`).
        render_mode: ``None`` or ``"ansi"``.
    """

    def __init__(
        self,
        *,
        observation_mode: str = "text",
        expert: str = "goal",
        reward_mode: str = "score",
        split: str = "train",
        num_products: int = 10_000,
        catalog_seed: int = 0,
        num_goals: int = 6_000,
        data_path: str | None = None,
        strict: bool = False,
        invalid_feedback: bool = True,
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
        if expert not in _EXPERTS:
            raise ValueError(f"expert must be one of {_EXPERTS}, not {expert!r}")
        if reward_mode not in ("score", "success"):
            raise ValueError(f"reward_mode must be 'score' or 'success', not {reward_mode!r}")
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
        self.observation_mode = observation_mode
        self.expert = expert
        self.reward_mode = reward_mode
        self.split = split
        self.strict = bool(strict)
        self.invalid_feedback = bool(invalid_feedback)
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
            server = shop_server.acquire(key, lambda: load_catalog(key))
            finalizer = weakref.finalize(self, shop_server.release, key)
            try:
                self._driver = self._make_driver(server.url)
            except BaseException:
                finalizer()
                raise
            self._server, self._finalizer = server, finalizer
        return self._server

    def _make_driver(self, base_url: str) -> Any:
        return _HttpDriver(base_url)

    @property
    def catalog(self) -> Catalog:
        """The shop's catalog (starts the server if needed)."""
        return self._ensure_server().catalog

    def close(self) -> None:
        driver, self._driver = self._driver, None
        try:
            if driver is not None:
                if self._sid and self._server is not None and self._server.running:
                    self._server.end_session(self._sid)
                driver.close()
        finally:
            self._sid = ""
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
        if self.observation_mode == "compact":
            return compact_text(self._page, self._location())
        text = self._page.text()
        if self.list_actions and not self._done:
            text += "\n\nAvailable actions: " + ", ".join(self.admissible_actions())
        return text

    def _observation(self, prefix: str = "") -> Any:
        """The observation of the current page, ``prefix`` (a message line) first."""
        return prefix + self._text_observation()

    def _invalid_observation(self, message: str) -> Any:
        return self._observation(f"Invalid action: {message}\n\n" if self.invalid_feedback else "")

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

    def tokenizer_words(self) -> list[str]:
        """Words a tokenizer trained for this shop should keep whole: every product id
        (lower-cased, as actions write them) and every option value of the catalog."""
        catalog = self.catalog
        ids = {str(p["asin"]).lower() for p in catalog.products}
        values = {str(v).lower() for p in catalog.products
                  for vs in p.get("options", {}).values() for v in vs}
        return sorted(ids | values)

    def admissible_actions(self) -> list[str]:
        """Valid actions on the current page (``search[<your query>]`` stands for any query).

        On ``compact`` results pages the products are listed by the number the page shows,
        ``click[3]`` (``click[<product id>]`` is valid too: it names the same product)."""
        if self._done:
            return []
        searchable = not self.strict or self._page.search_action is not None
        actions = ["search[<your query>]"] if searchable else []
        numbers = self._result_numbers()
        actions += [f"click[{numbers.get(key, key)}]" for key in self._page.clickables
                    if key != "search"]
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
        self._driver.new_episode()
        self._sid = uuid.uuid4().hex
        self._goal_index = goal_index
        self._goal = server.catalog.goals[goal_index]
        self._done = False
        self._searches = 0
        start = server.start_url(self._sid, goal_index, self.show_attrs, self.strict)
        self._load(*self._driver.open(start[len(server.url) :]))
        info = self.reset_info(
            task_id=f"webshop-goal-{goal_index}",
            instruction=str(self._goal["instruction_text"]),
            state_key=self.state_key(),
            answer=str(self._goal["asin"]),
            goal_index=goal_index,
            goal_options=copy.deepcopy(self._goal["goal_options"]),
            admissible_actions=self.admissible_actions(),
            distance_to_goal=self.distance_to_goal(),
        )
        return self._observation(), info

    def _parse_action(self, action: Any) -> tuple[str, Any] | str:
        """``("search", query)`` or ``("click", Clickable)``, or why the action is invalid.

        Linear in the length of ``action``; never raises.
        """
        if not isinstance(action, str):
            return f"actions are strings, got {type(action).__name__}"
        if len(action) > MAX_ACTION_CHARS:
            return f"the action is too long ({len(action)} characters; at most {MAX_ACTION_CHARS})"
        parsed = parse_strict(action) if self.strict else parse_original(action)
        if parsed is None:
            return (
                f"{echo_action(action)} is not an action; write search[<query>] or "
                "click[<button, product id or option>]"
            )
        name, arg = parsed
        if name not in ("search", "click"):
            return (
                f"{echo_action(name)} is not an action name; actions are search[...] and "
                "click[...], in lower case with no space before '['"
            )
        problem = argument_problem(arg, strict=self.strict)
        if problem is not None:
            return f"the argument {echo_action(arg)} cannot be used: {problem}"
        if name == "search":
            if self.strict and self._page.search_action is None:
                return "there is no search box on this page; click[back to search] first"
            if len(arg) > MAX_QUERY_CHARS:
                return f"the query is too long (at most {MAX_QUERY_CHARS} characters)"
            return "search", arg.lower()
        key = self._numbered_result(arg.lower()) or arg.lower()
        clickable = self._page.clickables.get(key)
        if clickable is None or key == "search":
            if _PRODUCT_ID.fullmatch(key):
                return f"product {arg.upper()} is not on this page"
            return f"there is no {echo_action(arg)} to click on this page"
        return "click", clickable

    def _result_links(self) -> tuple[list[str], int]:
        """The product ids of the current results page in page order, and how many results
        earlier pages listed (the compact page numbers results on from there)."""
        links = [key for key, c in self._page.clickables.items() if c.kind == "link"]
        first = (int(self._location().get("page", 1)) - 1) * pages.PRODUCT_WINDOW
        return links, first

    def _result_numbers(self) -> dict[str, int]:
        """On a ``compact`` results page, each listed product id and the number the page shows
        it under; empty on every other page and mode."""
        if self.observation_mode != "compact" or self._location()["kind"] != "search_results":
            return {}
        links, first = self._result_links()
        return {key: first + i + 1 for i, key in enumerate(links)}

    def _numbered_result(self, key: str) -> str | None:
        """``compact`` results pages number their products: the product id that ``click[<n>]``
        names there (result ``n`` as the page shows it), else None (every other page and mode
        reads ``n`` as itself — an option value such as a size may be a number)."""
        if (self.observation_mode != "compact" or not (key.isascii() and key.isdigit())
                or len(key) > 6
                or self._location()["kind"] != "search_results"):
            return None
        links, first = self._result_links()
        index = int(key) - first - 1
        return links[index] if 0 <= index < len(links) else None

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._driver is None or self._server is None or not self._sid:
            raise ResetNeeded("call reset() before step()")
        zero = {"score": 0.0} if self.reward_mode == "score" else {"success": 0.0}
        if self._done:
            info = self.step_info(
                state_key=self.state_key(),
                action_valid=False,
                reward_parts=zero,
                success=False,
                message="the episode is over",
                distance_to_goal=0,
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
                distance_to_goal=self.distance_to_goal(),
            )
            return self._invalid_observation(parsed), 0.0, False, False, info
        kind, arg = parsed
        if kind == "search":
            self._searches += 1
            url, html = self._driver.search(self._sid, arg)
        else:
            url, html = self._driver.click(arg)
        self._load(url, html)
        # the purchase counts when this action reached this session's done page; the score is
        # the server's record of it, never what the page shows
        outcome = self._server.outcome(self._sid) if self._location()["kind"] == "done" else None
        if outcome is not None:
            self._done = True
        parts = dict(zero)
        extra: dict[str, Any] = {}
        success = False
        if outcome is not None:
            score, reward_info = outcome
            success = score >= 1.0 - 1e-9
            if self.reward_mode == "score":
                parts = {"score": score}
            else:
                parts = {"success": SUCCESS_REWARD if success else 0.0}
            extra = {"task_score": score, "reward_info": {"reward": score, **reward_info}}
        info = self.step_info(
            state_key=self.state_key(),
            action_valid=True,
            reward_parts=parts,
            success=success,
            admissible_actions=self.admissible_actions(),
            distance_to_goal=self.distance_to_goal(),
            **extra,
        )
        terminated = outcome is not None
        return self._observation(), self.reward_from_parts(parts), terminated, False, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._text_observation()
        return None

    # -- the expert --------------------------------------------------------------------------
    def expert_queries(self) -> list[str]:
        """The expert's searches: the goal's attributes, type and options (``first_match``: the
        instruction without its price clause), then the goal product's title."""
        goal = self._goal
        if self.expert == "first_match":
            first = _PRICE_CLAUSE.sub("", str(goal["instruction_text"]).lower()).strip()
        else:
            words = [*goal["attributes"], goal["query"], *_option_values(goal["goal_options"])]
            first = " ".join(words).lower()
        return [first, str(goal["name"]).lower()]

    def satisfies_goal(self, asin: str) -> bool:
        """Whether buying product ``asin`` with the goal's options (those it offers) scores 1.0
        under this environment's rules (the ``first_match`` expert's test)."""
        server = self._ensure_server()
        product = server.catalog.by_asin.get(asin.upper()) or server.catalog.by_asin.get(asin)
        if product is None:
            return False
        options = {
            name: value
            for name, value in _target_options(self._goal, product).items()
            if value in product.get("options", {}).get(name, [])
        }
        score, _ = get_reward(product, self._goal, float(product["pricing"][0]), options,
                              nouns=server.nouns, strict=self.strict)
        return score >= 1.0 - 1e-9

    def _lists_a_match(self, query: str) -> bool:
        """Whether the results of ``query`` show a product that satisfies the goal within the
        pages the expert reads (:data:`EXPERT_MAX_PAGES`)."""
        hits = self._ensure_server().search(query.lower())
        products = self.catalog.products
        return any(self.satisfies_goal(str(products[i]["asin"]))
                   for i in hits[: EXPERT_MAX_PAGES * pages.PRODUCT_WINDOW])

    def _expert_pick(self) -> str | None:
        """The product the expert opens on a results page, or None to page on."""
        asin = str(self._goal.get("asin", "")).lower()
        links = [key for key, c in self._page.clickables.items() if c.kind == "link"]
        if self.expert == "first_match":
            return next((key for key in links if self.satisfies_goal(key)), None)
        return asin if asin in links else None

    def expert_action(self) -> str:
        """The next action of an oracle that buys the goal product with the goal options.

        It searches with the goal's words, pages through the results (up to
        :data:`EXPERT_MAX_PAGES`, while pages are full) until the goal product appears
        (``first_match``: any product that satisfies the goal, the first listed), and otherwise
        searches by the product's title; on the product page it selects each goal option, then
        buys. Off its path (e.g. a demonstration by
        :class:`~agentgym.core.policies.NoisyExpertPolicy`), on another product's page it goes
        back: ``first_match`` to the results it came from (``< prev``), ``goal`` to a new search
        (its next query: the goal product's title); back on the search page, ``first_match``
        repeats its first query when that query lists a product that fits.
        """
        if not self._sid:
            raise ResetNeeded("call reset() before expert_action()")
        loc = self._location()
        kind = loc["kind"]
        asin = str(self._goal.get("asin", "")).lower()
        clickables = self._page.clickables
        if self._done:
            return "click[buy now]"
        if kind == "search":
            queries = self.expert_queries()
            index = min(self._searches, len(queries) - 1)
            if index and self.expert == "first_match" and self._lists_a_match(queries[0]):
                index = 0  # back on the search page off its path: the search that worked
            return f"search[{queries[index]}]"
        if kind == "search_results":
            pick = self._expert_pick()
            if pick is not None:  # compact pages: the number the page shows
                return f"click[{self._result_numbers().get(pick, pick)}]"
            shown = sum(1 for c in clickables.values() if c.kind == "link")
            if (
                "next >" in clickables
                and shown == pages.PRODUCT_WINDOW
                and loc["page"] < EXPERT_MAX_PAGES
            ):
                return "click[next >]"
            return "click[back to search]"
        if kind == "item_page":
            chosen = loc["asin"].lower() == asin or (
                self.expert == "first_match" and self.satisfies_goal(loc["asin"])
            )
            if not chosen:
                if self.expert == "first_match" and "< prev" in clickables:
                    return "click[< prev]"  # a reader goes back to the list it came from
                return "click[back to search]"
            product = self.catalog.by_asin.get(loc["asin"], {})
            for name, value in _target_options(self._goal, product).items():
                if loc["options"].get(name) != value and value in clickables:
                    return f"click[{value}]"
            return "click[buy now]"
        return "click[< prev]"

    def distance_to_goal(self) -> int | None:
        """Actions the expert (:meth:`expert_action`) needs from here to buy the goal product.

        The expert's plan is followed on paper: its searches run on the shop's memoized search
        (no page is fetched), results pages are the server's ``PRODUCT_WINDOW`` slices, and on
        the goal's item page every goal option not yet selected costs one click before ``buy
        now``. Returns 0 once bought (whatever was bought: the episode is over) and None where
        the expert would not reach the goal (its title search misses the product, or a page the
        expert has no rule for).
        """
        if not self._sid:
            raise ResetNeeded("call reset() before distance_to_goal()")
        if self._done:
            return 0
        loc = self._location()
        kind = loc["kind"]
        if kind == "search":
            return self._expert_search_steps(self._searches)
        if kind == "search_results":
            return self._expert_results_steps(loc["q"], loc["page"], self._searches)
        if kind in ("item_page", "item_sub_page"):
            # a sub-page goes back to its item page ("< prev") first
            extra = 1 if kind == "item_sub_page" else 0
            if loc["asin"].lower() != str(self._goal.get("asin", "")).lower():
                rest = self._expert_search_steps(self._searches)
                return None if rest is None else extra + 1 + rest  # "back to search"
            return extra + self._expert_item_steps(loc["options"])
        return None

    def _expert_item_steps(self, selected: Mapping[str, str]) -> int:
        """Option clicks plus ``buy now`` on the goal's item page with ``selected`` options."""
        product = self.catalog.by_asin.get(str(self._goal.get("asin", "")), {})
        values = {v for vs in product.get("options", {}).values() for v in vs}
        targets = _target_options(self._goal, product)
        return 1 + sum(1 for name, value in targets.items()
                       if selected.get(name) != value and value in values)

    def _expert_search_steps(
        self, searches: int, tried: frozenset[str] = frozenset()
    ) -> int | None:
        """From the search page, after ``searches`` searches: the expert's next query, then its
        results. ``tried``: queries this plan already ran and saw miss the goal (the expert
        would repeat them forever: None)."""
        queries = self.expert_queries()
        query = queries[min(searches, len(queries) - 1)]
        if query in tried:
            return None
        rest = self._expert_results_steps(query, 1, searches + 1, tried | {query})
        return None if rest is None else 1 + rest

    def _expert_results_steps(
        self, query: str, page: int, searches: int, tried: frozenset[str] = frozenset()
    ) -> int | None:
        """From results page ``page`` of ``query``: open the goal if shown, else page on while
        pages are full (up to :data:`EXPERT_MAX_PAGES`), else back to search."""
        server = self._ensure_server()
        hits = server.search(query.lower())
        window = pages.PRODUCT_WINDOW
        shown = hits[(page - 1) * window : page * window]
        goal = str(self._goal.get("asin", "")).lower()
        if any(str(server.catalog.products[i]["asin"]).lower() == goal for i in shown):
            return 1 + self._expert_item_steps({})
        has_next = not self.strict or page * window < len(hits)
        if has_next and len(shown) == window and page < EXPERT_MAX_PAGES:
            rest = self._expert_results_steps(query, page + 1, searches, tried)
        else:
            rest = self._expert_search_steps(searches, tried)
        return None if rest is None else 1 + rest
