"""A generated encyclopedia of fictional entities with typed relations, written as prose.

The world holds people, cities, countries, companies, universities and works (books, films,
albums). Every relation a question can follow is *functional* — one value per subject (a person
has one birthplace, a book one publisher, a country one capital) — so a question that names its
starting entity and follows relations has exactly one answer.

Each entity gets an article of several paragraphs: the facts of its relations in plain sentences,
plus distractor sentences that mention other entities in other roles (a person "later moved to"
a city that is not the birthplace, a company "opened an office in" a city that is not its
headquarters), and a "not to be confused with" line for near-duplicate names (about one entity in
twelve has a twin whose name differs by a letter or a word: "Marla Vencel" / "Marla Vencell",
"Orvik Press" / "Orvik Books"). Everything is drawn from one ``random.Random(seed)``: the same
seed gives the same world, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: Share of each kind of entity in a world of ``n`` articles.
KIND_SHARES: dict[str, float] = {
    "person": 0.36, "city": 0.12, "country": 0.015, "company": 0.14, "university": 0.045,
    "book": 0.15, "film": 0.11, "album": 0.06,
}
#: Relations (attribute name -> kind of the related entity) per kind of subject.
RELATIONS: dict[str, dict[str, str]] = {
    "person": {"born_in": "city", "studied_at": "university", "works_for": "company",
               "spouse": "person"},
    "city": {"country": "country", "mayor": "person"},
    "country": {"capital": "city"},
    "company": {"founder": "person", "headquarters": "city"},
    "university": {"located_in": "city", "founder": "person"},
    "book": {"author": "person", "publisher": "company"},
    "film": {"director": "person", "studio": "company"},
    "album": {"artist": "person", "label": "company"},
}
#: Attributes with literal values (a question may end on one).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "person": ("birth_year", "occupation"),
    "company": ("founded_year", "industry"),
    "university": ("founded_year",),
    "book": ("year",),
    "film": ("year",),
    "album": ("year",),
    "city": (),
    "country": (),
}

_ONSETS = ("b", "br", "c", "d", "dr", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s",
           "sh", "st", "t", "th", "v", "w", "z", "")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ou", "y")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "nd", "rk", "ss", "x", "v")
_CITY_SUFFIX = ("", "", "", "ford", "holm", "wick", "by", "mouth", "burg", "ville", "haven")
_CITY_PREFIX = ("", "", "", "", "", "Port ", "New ", "Upper ", "Saint ", "Fort ", "Lake ")
_COUNTRY_FORMS = ("{}", "{}", "{}ia", "{}land", "Republic of {}", "{}istan", "Kingdom of {}")
_INDUSTRY_SUFFIX = {
    "publishing": ("Press", "Books", "Publishing", "House"),
    "film": ("Pictures", "Studios", "Films"),
    "music": ("Records", "Music", "Sound"),
    "shipping": ("Shipping", "Freight", "Lines"),
    "software": ("Labs", "Systems", "Software"),
    "food": ("Foods", "Bakeries", "Provisions"),
    "mining": ("Mining", "Minerals", "Resources"),
}
_OCCUPATIONS = ("novelist", "poet", "engineer", "painter", "architect", "chemist", "film director",
                "singer", "composer", "historian", "economist", "surgeon", "journalist",
                "physicist", "sculptor", "entrepreneur", "botanist", "lawyer", "diplomat",
                "photographer")
_ADJECTIVES = ("Silent", "Crimson", "Hollow", "Golden", "Broken", "Distant", "Quiet", "Burning",
               "Frozen", "Hidden", "Last", "Paper", "Iron", "Velvet", "Wandering", "Endless",
               "Bitter", "Bright", "Shallow", "Northern", "Secret", "Lonely", "Restless", "Pale")
_NOUNS = ("Harbor", "Garden", "River", "Lantern", "Orchard", "Mirror", "Tide", "Crown", "Meadow",
          "Tower", "Winter", "Compass", "Voyage", "Signal", "Ember", "Archive", "Forest", "Bridge",
          "Island", "Letter", "Machine", "Season", "Shadow", "Canyon", "Chorus", "Harvest")
_EVENTS = ("a literary festival", "a trade fair", "a charity gala", "an award ceremony",
           "a summer conference", "a film premiere", "a public lecture", "a chess tournament")


@dataclass
class Entity:
    """One entity of the world.

    Attributes:
        index: position in :attr:`World.entities`.
        kind: ``person``, ``city``, ``country``, ``company``, ``university``, ``book``, ``film``
            or ``album``.
        name: the unique name (the article title).
        rel: relation name -> index of the related entity (functional).
        attrs: attribute name -> literal value.
        twin: index of the near-duplicate entity, if any.
    """

    index: int
    kind: str
    name: str
    rel: dict[str, int] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)
    twin: int | None = None

    @property
    def doc_id(self) -> str:
        return f"d{self.index:06d}"


@dataclass
class World:
    """Entities and their articles (``articles[i]`` is entity ``i``'s text)."""

    seed: int
    entities: list[Entity]
    articles: list[str]

    def by_kind(self, kind: str) -> list[Entity]:
        return [e for e in self.entities if e.kind == kind]


class _Names:
    """Unique fictional names drawn from syllables, with near-duplicate twins."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def word(self, syllables: int) -> str:
        rng = self.rng
        text = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                       for _ in range(syllables))
        return text.capitalize() if len(text) > 2 else (text + "ra").capitalize()

    def unique(self, make) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of unique names; the syllable lists are too small")

    def twin_of(self, name: str) -> str | None:
        """A near-duplicate of ``name``: one letter doubled, dropped or swapped, or a different
        last word (kept only when unused)."""
        rng = self.rng
        words = name.split(" ")
        for _ in range(20):
            w = rng.randrange(len(words))
            word = words[w]
            if len(word) < 4:
                continue
            i = rng.randrange(1, len(word) - 1)
            op = rng.randrange(3)
            if op == 0:
                new = word[:i] + word[i] + word[i:]
            elif op == 1:
                new = word[:i] + word[i + 1:]
            else:
                new = word[:i] + rng.choice("aeiourn") + word[i + 1:]
            candidate = " ".join([*words[:w], new, *words[w + 1:]])
            if candidate != name and candidate not in self.used:
                self.used.add(candidate)
                return candidate
        return None


def _counts(n: int) -> dict[str, int]:
    counts = {k: max(2, round(n * share)) for k, share in KIND_SHARES.items()}
    counts["person"] += n - sum(counts.values())
    return counts


def build_world(n_articles: int = 20_000, seed: int = 0) -> World:
    """Generate a world of ``n_articles`` entities (one article each), deterministically.

    Args:
        n_articles: number of entities/articles (at least 40).
        seed: the world's seed.
    """
    if n_articles < 40:
        raise ValueError(f"n_articles must be >= 40, got {n_articles}")
    rng = random.Random(seed)
    names = _Names(rng)
    counts = _counts(n_articles)
    entities: list[Entity] = []

    def add(kind: str, name: str) -> Entity:
        entity = Entity(len(entities), kind, name)
        entities.append(entity)
        return entity

    # Names first (a twin is created right after its original, of the same kind).
    def person_name() -> str:
        return f"{names.word(rng.choice((1, 2)))} {names.word(rng.choice((2, 2, 3)))}"

    def city_name() -> str:
        base = names.word(rng.choice((1, 2, 2)))
        return f"{rng.choice(_CITY_PREFIX)}{base}{rng.choice(_CITY_SUFFIX)}"

    def country_name() -> str:
        return rng.choice(_COUNTRY_FORMS).format(names.word(2))

    industries = list(_INDUSTRY_SUFFIX)

    def title() -> str:
        form = rng.randrange(4)
        adj, noun, other = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_NOUNS)
        if form == 0:
            return f"The {adj} {noun}"
        if form == 1:
            return f"{noun} of {other}s" if noun != other else f"{adj} {noun}s"
        if form == 2:
            return f"The {noun} of {names.word(2)}"
        return f"{adj} {noun} {rng.choice(('Song', 'Story', 'Year', 'Road', 'Night', 'Sea'))}"

    makers = {
        "person": person_name,
        "city": city_name,
        "country": country_name,
        "book": title,
        "film": title,
        "album": title,
    }
    company_industry: dict[int, str] = {}
    for kind, count in counts.items():
        made = 0
        while made < count:
            if kind == "company":
                industry = industries[made % len(industries)]
                suffix = _INDUSTRY_SUFFIX[industry]
                name = names.unique(lambda s=suffix: f"{names.word(2)} {rng.choice(s)}")
            elif kind == "university":
                name = names.unique(lambda: rng.choice((
                    f"University of {names.word(2)}", f"{names.word(2)} Institute of Technology",
                    f"{names.word(2)} College", f"{names.word(3)} University")))
            else:
                name = names.unique(makers[kind])
            entity = add(kind, name)
            if kind == "company":
                company_industry[entity.index] = industry
            made += 1
            if made < count and rng.random() < 1 / 12:
                twin_name = names.twin_of(name)
                if twin_name is not None:
                    twin = add(kind, twin_name)
                    if kind == "company":
                        company_industry[twin.index] = industry
                    entity.twin, twin.twin = twin.index, entity.index
                    made += 1

    pools = {kind: [e.index for e in entities if e.kind == kind] for kind in counts}
    by_industry: dict[str, list[int]] = {i: [] for i in industries}
    for index, industry in company_industry.items():
        by_industry[industry].append(index)

    # Countries and cities: every city lies in one country; a country's capital is its first city.
    countries, cities = pools["country"], pools["city"]
    for k, city in enumerate(cities):
        entities[city].rel["country"] = countries[k % len(countries)] if k < len(countries) \
            else rng.choice(countries)
    for country in countries:
        own = [c for c in cities[: len(countries)] if entities[c].rel["country"] == country]
        entities[country].rel["capital"] = own[0]
    persons = pools["person"]
    for city in cities:
        entities[city].rel["mayor"] = rng.choice(persons)
        entities[city].attrs["population"] = f"{rng.randrange(2, 900) * 1000 + rng.randrange(1000)}"
    for person in persons:
        e = entities[person]
        e.rel["born_in"] = rng.choice(cities)
        e.rel["studied_at"] = rng.choice(pools["university"])
        e.rel["works_for"] = rng.choice(pools["company"])
        e.attrs["birth_year"] = str(rng.randrange(1900, 2001))
        e.attrs["occupation"] = rng.choice(_OCCUPATIONS)
    shuffled = persons[:]
    rng.shuffle(shuffled)
    for a, b in zip(shuffled[0:len(shuffled) // 3:2], shuffled[1:len(shuffled) // 3:2],
                    strict=False):
        entities[a].rel["spouse"], entities[b].rel["spouse"] = b, a
    for company in pools["company"]:
        e = entities[company]
        e.rel["founder"] = rng.choice(persons)
        e.rel["headquarters"] = rng.choice(cities)
        e.attrs["founded_year"] = str(rng.randrange(1800, 2021))
        e.attrs["industry"] = company_industry[company]
    for university in pools["university"]:
        e = entities[university]
        e.rel["located_in"] = rng.choice(cities)
        e.rel["founder"] = rng.choice(persons)
        e.attrs["founded_year"] = str(rng.randrange(1600, 2001))
    works = {"book": ("author", "publisher", "publishing"), "film": ("director", "studio", "film"),
             "album": ("artist", "label", "music")}
    for kind, (maker, company_rel, industry) in works.items():
        for work in pools[kind]:
            e = entities[work]
            e.rel[maker] = rng.choice(persons)
            e.rel[company_rel] = rng.choice(by_industry[industry] or pools["company"])
            e.attrs["year"] = str(rng.randrange(1920, 2025))

    articles = [_article(e, entities, pools, rng) for e in entities]
    return World(seed=seed, entities=entities, articles=articles)


# --- prose ------------------------------------------------------------------------------------
def _article(e: Entity, entities: list[Entity], pools: dict[str, list[int]],
             rng: random.Random) -> str:
    def name(index: int) -> str:
        return entities[index].name

    def other(kind: str, not_index: int) -> str:
        pick = rng.choice(pools[kind])
        return name(pick if pick != not_index else pools[kind][0])

    r, a = e.rel, e.attrs
    paragraphs: list[str] = []
    if e.kind == "person":
        pronoun = rng.choice(("She", "He"))
        article = "an" if a["occupation"][0] in "aeiou" else "a"
        paragraphs.append(
            f"{e.name} is {article} {a['occupation']} born in {a['birth_year']}. {e.name} was "
            f"born in {name(r['born_in'])} and studied at {name(r['studied_at'])}. {pronoun} "
            f"works for {name(r['works_for'])}."
        )
        later = other("city", r["born_in"])
        second = f"{pronoun} later moved to {later}, where {pronoun.lower()} lived for many years."
        if "spouse" in r:
            second += f" {e.name} is married to {name(r['spouse'])}."
        second += (f" In {int(a['birth_year']) + rng.randrange(20, 50)}, {pronoun.lower()} met "
                   f"{other('person', e.index)} at {rng.choice(_EVENTS)} in {other('city', -1)}.")
        paragraphs.append(second)
        paragraphs.append(
            f"Before joining {name(r['works_for'])}, {e.name} turned down an offer from "
            f"{other('company', r['works_for'])}. Critics often compare {e.name}'s early work "
            f"with that of {other('person', e.index)}, who studied at "
            f"{other('university', r['studied_at'])}."
        )
    elif e.kind == "city":
        paragraphs.append(
            f"{e.name} is a city in {name(r['country'])} with a population of "
            f"{int(a['population']):,}. The mayor of {e.name} is {name(r['mayor'])}."
        )
        paragraphs.append(
            f"{e.name} lies on a trade route to {other('city', e.index)}, and many of its "
            f"residents commute to {other('city', e.index)}. The former mayor, "
            f"{other('person', r['mayor'])}, now lives abroad."
        )
        paragraphs.append(
            f"Visitors to {e.name} often stop at the museum funded by "
            f"{other('company', -1)}. {e.name} is twinned with {other('city', e.index)} in "
            f"{other('country', r['country'])}."
        )
    elif e.kind == "country":
        paragraphs.append(
            f"{e.name} is a country. Its capital is {name(r['capital'])}."
        )
        paragraphs.append(
            f"The largest port of {e.name} is {other('city', r['capital'])}, and its best-known "
            f"university is {other('university', -1)}. {e.name} borders "
            f"{other('country', e.index)}."
        )
    elif e.kind == "company":
        paragraphs.append(
            f"{e.name} is a {a['industry']} company founded in {a['founded_year']} by "
            f"{name(r['founder'])}. {e.name} is headquartered in {name(r['headquarters'])}."
        )
        paragraphs.append(
            f"{e.name} opened an office in {other('city', r['headquarters'])} and later acquired "
            f"a stake in {other('company', e.index)}. Its chief executive is "
            f"{other('person', r['founder'])}."
        )
        paragraphs.append(
            f"In {int(a['founded_year']) + rng.randrange(5, 60)}, {e.name} sponsored "
            f"{rng.choice(_EVENTS)} in {other('city', -1)}."
        )
    elif e.kind == "university":
        paragraphs.append(
            f"{e.name} is a university located in {name(r['located_in'])}. It was founded in "
            f"{a['founded_year']} by {name(r['founder'])}."
        )
        paragraphs.append(
            f"{e.name} runs a research station near {other('city', r['located_in'])} and an "
            f"exchange program with {other('university', e.index)}. Its current rector is "
            f"{other('person', r['founder'])}."
        )
    else:
        maker, company = {"book": ("author", "publisher"), "film": ("director", "studio"),
                          "album": ("artist", "label")}[e.kind]
        what = {"book": "novel", "film": "film", "album": "album"}[e.kind]
        verb = {"book": "written by", "film": "directed by", "album": "recorded by"}[e.kind]
        company_verb = {"book": "published by", "film": "produced by the studio",
                        "album": "released on the label"}[e.kind]
        paragraphs.append(
            f"{e.name} is a {a['year']} {what} {verb} {name(r[maker])}. It was {company_verb} "
            f"{name(r[company])}."
        )
        helper = {"book": "was translated into French by", "film": "stars",
                  "album": "features a duet with"}[e.kind]
        paragraphs.append(
            f"{e.name} is set in {other('city', -1)}. It {helper} "
            f"{other('person', r[maker])}. A sequel was planned with "
            f"{other('company', r[company])} but never appeared."
        )
    if e.twin is not None:
        paragraphs.append(f"{e.name} is not to be confused with {name(e.twin)}.")
    return "\n\n".join(paragraphs)
