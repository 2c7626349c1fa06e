"""Facts about a package's functions and variables, each declared by the rules that read it.

As a go/analysis analyzer declares the facts it requires, a rule lists the package facts it
reads in ``requires`` (``requires = (facts.PER_REQUEST, facts.RUNS_ONCE, facts.ENDLESS)``).
A :class:`PackageFacts` computes a fact when a rule first reads it, by its *source* — what
must be read to know it: the summaries of the package's functions (``calls``), the struct
fields of the other files (``db-fields``), the selectors they use (``field-uses``), the
functions whose loops never end (``endless``: only the files with a ``for {`` are parsed) — and all
the facts of one source at once.  A fact no rule reads is never computed; a file on which no
rule reads any costs nothing.  :meth:`PackageFacts.watch` records which facts (and values) the
rules read while they looked at one declaration, so that the engine keys a declaration's
findings by exactly those; a fact read but not declared (:meth:`PackageFacts.allow`) is still
recorded, and the engine reports it as the rule's error (the fixture tests fail on it).

Adding a fact: a :class:`Fact` below (name, source, what it says, its empty value), in
:data:`ALL_FACTS`, a property of :class:`PackageFacts`; its value from the provider of its
source in :mod:`.package` (``_combined`` for ``calls``, ``_provide`` for the others); and the
fact in the ``requires`` of every rule that reads it, directly or through shared code.

Functions are named by :func:`golsp_leaks.goanalysis.libraries.frameworks.function_key`
(``"f"``, or ``"T.m"`` for a method).  :func:`golsp_leaks.goanalysis.summaries.package.package_facts`
gives the facts of a file's package.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from golsp_leaks.goanalysis.summaries.locks import EMPTY, LockFacts

T = TypeVar("T")

#: The sources facts are computed from (see :data:`Fact.source`).
CALLS = "calls"
DB_FIELDS_SOURCE = "db-fields"
FIELD_USES_SOURCE = "field-uses"
LOCKS_SOURCE = "locks"
SIBLINGS_SOURCE = "siblings"
ENDLESS_SOURCE = "endless"
#: The source of :func:`made_in_file`'s facts: ``"own-made:" + type name``.
OWN_MADE_SOURCE = "own-made"
#: The source of :func:`mentioned_in_file`'s facts: ``"own-mentions:" + word``.
OWN_MENTIONS_SOURCE = "own-mentions"


class Fact(Generic[T]):
    """One named fact about a package; ``source`` says what computing it reads."""

    __slots__ = ("default", "doc", "family", "name", "source")

    def __init__(self, name: str, source: str, doc: str, default: T, family: Fact[Any] | None = None) -> None:
        self.name = name
        self.source = source
        self.doc = doc
        self.default = default
        #: For a fact made per argument (:func:`made_in_file`): the fact a rule declares for all of them.
        self.family = family

    def __repr__(self) -> str:
        return f"Fact({self.name!r})"


_EMPTY_STRS: frozenset[str] = frozenset()

PER_REQUEST: Fact[frozenset[str]] = Fact(
    "handlers", CALLS, "functions that run per request: handlers and what they call", _EMPTY_STRS
)
RUNS_ONCE: Fact[frozenset[str]] = Fact(
    "startup",
    CALLS,
    "functions that only ever run once: called only from main, init, a sync.Once or other such "
    "functions, never in a loop",
    _EMPTY_STRS,
)
REPEATED: Fact[frozenset[str]] = Fact(
    "repeated",
    CALLS,
    "functions known to run more than once: per request, called in a loop or from a stored or "
    "registered function literal, and what those call (never a method resolved by its name alone)",
    _EMPTY_STRS,
)
GOROUTINES: Fact[frozenset[str]] = Fact(
    "goroutines", CALLS, "functions run as a goroutine (go f(), go x.m()) by code that is not startup code",
    _EMPTY_STRS,
)
ENDLESS: Fact[frozenset[str]] = Fact(
    "endless", ENDLESS_SOURCE, "functions whose body runs a loop that can never end", _EMPTY_STRS
)
ABANDONED: Fact[frozenset[tuple[str, str]]] = Fact(
    "abandoned",
    CALLS,
    "(function, caller): the caller keeps what the function returns in a local it only receives "
    "from, and can return without receiving from it",
    frozenset(),
)
LIFECYCLES: Fact[frozenset[tuple[str, str, str]]] = Fact(
    "lifecycles",
    CALLS,
    "(type, start, stop): method start of type starts a goroutine that runs until method stop "
    "closes (or sends on) the field it waits on",
    frozenset(),
)
RUNNERS: Fact[frozenset[tuple[str, str, str]]] = Fact(
    "runners",
    CALLS,
    "(type, method, stop): method itself waits on a field that method stop closes (or sends on), "
    "so go v.method() runs until stop",
    frozenset(),
)
CONSTRUCTORS: Fact[frozenset[tuple[str, str]]] = Fact(
    "constructors", CALLS, "(function, type): functions that return a lifecycle type or a pointer to it",
    frozenset(),
)
CLOSABLE: Fact[frozenset[str]] = Fact(
    "closable", CALLS, "types with a Close, Stop or Shutdown method: possibly many values in one process",
    _EMPTY_STRS,
)
GLOBALS: Fact[frozenset[str]] = Fact("globals", CALLS, "package-level variables", _EMPTY_STRS)
COLLECTIONS: Fact[frozenset[str]] = Fact(
    "collections", CALLS, "package-level variables that are maps, slices or sync.Map values", _EMPTY_STRS
)
SHRUNK_GLOBALS: Fact[frozenset[str]] = Fact(
    "shrunk_globals", CALLS, "package-level variables that some code deletes from, trims or resets",
    _EMPTY_STRS,
)
SHRUNK_FIELDS: Fact[frozenset[str]] = Fact(
    "shrunk_fields",
    CALLS,
    "names of struct fields some code deletes from, trims or resets (delete(s.m, k), "
    "s.list = s.list[n:], s.m = map[string]int{}, s.m.Delete(k)), whatever their owner",
    _EMPTY_STRS,
)
FLAGS: Fact[frozenset[str]] = Fact(
    "flags", CALLS, 'package-wide switches, e.g. "fiber-immutable" (fiber.Config{Immutable: true})',
    _EMPTY_STRS,
)
DB_FIELDS: Fact[frozenset[tuple[str, str, str]]] = Fact(
    "db_fields",
    DB_FIELDS_SOURCE,
    "(field, import path, type) of struct fields declared in the package's other files with a database "
    "library's type (type Store struct{ db *pgxpool.Pool } in store.go)",
    frozenset(),
)
FIELD_USES: Fact[frozenset[str]] = Fact(
    "field_uses",
    FIELD_USES_SOURCE,
    "unexported fields the package's other files use other than by assigning them (s.cancel())",
    _EMPTY_STRS,
)
LOCKS: Fact[LockFacts] = Fact(
    "locks",
    LOCKS_SOURCE,
    "mutex and wait-group fields, types embedding a mutex, methods that take a lock and functions "
    "that release one, declared in the package's other files (see summaries.locks)",
    EMPTY,
)
SIBLINGS: Fact[tuple[tuple[str, int, int], ...]] = Fact(
    "siblings",
    SIBLINGS_SOURCE,
    "(path, modification time in ns, size) of the package's other files (its test files too for a "
    "test file): where summaries.declared finds the helpers a function calls",
    (),
)

MADE_IN_FILE: Fact[tuple[tuple[int, int, int], ...]] = Fact(
    "made_in_file",
    OWN_MADE_SOURCE,
    "where the file being analysed makes values of one of its types (T{}, &T{}, new(T)): for each, "
    "its offset in its top-level declaration and that declaration's length and text hash; a rule "
    "reads it through made_in_file(T), so that its finding is looked for again when a declaration "
    "that makes a T changes, and only then",
    (),
)

#: The facts made per argument (:func:`made_in_file`, :func:`mentioned_in_file`), by family and argument.
_PER_ARGUMENT: dict[tuple[str, str], Fact[Any]] = {}


def _per_argument(family: Fact[T], argument: str) -> Fact[T]:
    """The fact of ``family`` for one argument: named ``family:argument``, of the source
    ``family's source:argument``, declared by rules as ``family``."""
    fact = _PER_ARGUMENT.get((family.name, argument))
    if fact is None:
        if len(_PER_ARGUMENT) > 4096:
            _PER_ARGUMENT.clear()
        fact = _PER_ARGUMENT[(family.name, argument)] = Fact(
            f"{family.name}:{argument}", f"{family.source}:{argument}", family.doc, family.default, family
        )
    return fact


def made_in_file(type_name: str) -> Fact[tuple[tuple[int, int, int], ...]]:
    """The fact :data:`MADE_IN_FILE` for one type name (a rule declares ``MADE_IN_FILE``)."""
    return _per_argument(MADE_IN_FILE, type_name)


MENTIONED_IN_FILE: Fact[tuple[tuple[int, int], ...]] = Fact(
    "mentioned_in_file",
    OWN_MENTIONS_SOURCE,
    "the top-level declarations of the file being analysed whose text contains a word (\".cancel\"): "
    "each one's length and text hash; a rule that looks for a field's uses in the bodies of the "
    "file's other declarations reads it through mentioned_in_file(word), so that its finding is "
    "looked for again when a declaration mentioning the word changes, and only then",
    (),
)

def mentioned_in_file(word: str) -> Fact[tuple[tuple[int, int], ...]]:
    """The fact :data:`MENTIONED_IN_FILE` for one word (a rule declares ``MENTIONED_IN_FILE``)."""
    return _per_argument(MENTIONED_IN_FILE, word)


#: Every fact, in a fixed order.
ALL_FACTS: tuple[Fact[Any], ...] = (
    PER_REQUEST, RUNS_ONCE, REPEATED, GOROUTINES, ENDLESS, ABANDONED, LIFECYCLES, RUNNERS, CONSTRUCTORS, CLOSABLE,
    GLOBALS, COLLECTIONS, SHRUNK_GLOBALS, SHRUNK_FIELDS, FLAGS, DB_FIELDS, FIELD_USES, LOCKS, SIBLINGS,
)
_BY_NAME = {fact.name: fact for fact in ALL_FACTS}
#: What :class:`~golsp_leaks.goanalysis.libraries.frameworks.RequestScope` reads: every rule that
#: asks whether code runs per request or once declares these.
SCOPE_FACTS: tuple[Fact[frozenset[str]], ...] = (PER_REQUEST, RUNS_ONCE)

#: Computes the facts of one source: ``source -> {fact name: value}`` (missing names: the default).
Provider = Callable[[str], Mapping[str, object]]


#: A small number per distinct value of a fact, so that what the engine keeps of the facts a
#: declaration read holds no value alive; bounded (numbers are never given twice).
_value_ids: dict[object, int] = {}
_next_id = itertools.count()
_ids_lock = threading.Lock()
_MAX_VALUE_IDS = 256


def value_id(value: object) -> int:
    """The number of this value (equal values, equal numbers, while it is remembered)."""
    with _ids_lock:
        found = _value_ids.get(value)
        if found is None:
            if len(_value_ids) >= _MAX_VALUE_IDS:
                _value_ids.clear()
            found = _value_ids[value] = next(_next_id)
        return found


def forget_values(names: Iterable[str]) -> None:
    """Let go of the values that name one of these functions (those of a closed document's file):
    asked again, a value gets a new number (what was kept under the old one is not found)."""
    wanted = set(names)
    if not wanted:
        return
    with _ids_lock:
        for value in [v for v in _value_ids if _names_one_of(v, wanted)]:
            del _value_ids[value]


def _names_one_of(value: object, names: set[str]) -> bool:
    if isinstance(value, str):
        return value.rsplit(".", 1)[-1] in names
    if isinstance(value, (tuple, frozenset)):
        return any(_names_one_of(item, names) for item in value)
    return False


#: The facts read while a declaration was looked at: each with the number of its value.
Reads = tuple[tuple["Fact[Any]", int], ...]



class PackageFacts:
    """The facts of one package, computed source by source when first read.

    ``PackageFacts(handlers=..., startup=...)`` holds given values (the rest are empty);
    ``PackageFacts(provider=f)`` asks ``f`` for the facts of a source the first time one of them
    is read.  Facts read as attributes (``facts.handlers``) or with :meth:`get`.
    """

    __slots__ = ("_allowed", "_provider", "_reads", "_values", "undeclared")

    def __init__(self, provider: Provider | None = None, **values: object) -> None:
        unknown = set(values) - set(_BY_NAME)
        if unknown:
            raise TypeError(f"unknown package facts: {', '.join(sorted(unknown))}")
        self._provider = provider
        self._values: dict[str, object] = dict(values)
        if provider is None:
            for fact in ALL_FACTS:
                self._values.setdefault(fact.name, fact.default)
        self._reads: dict[Fact[Any], object] | None = None
        self._allowed: frozenset[Fact[Any]] | None = None
        #: Facts read while :meth:`allow` did not allow them (the engine reports and clears it).
        self.undeclared: set[Fact[Any]] = set()

    @classmethod
    def given(cls, values: Mapping[str, object]) -> PackageFacts:
        """Facts with these values, by name (the rest are empty)."""
        facts = cls()
        unknown = set(values) - set(_BY_NAME)
        if unknown:
            raise TypeError(f"unknown package facts: {', '.join(sorted(unknown))}")
        facts._values.update(values)
        return facts

    def get(self, fact: Fact[T]) -> T:
        allowed = self._allowed
        if allowed is not None and fact not in allowed and (fact.family is None or fact.family not in allowed):
            self.undeclared.add(fact.family or fact)
        try:
            value = self._values[fact.name]
        except KeyError:
            value = self._compute(fact)
        if self._reads is not None:
            self._reads[fact] = value
        return value  # type: ignore[return-value]

    def _compute(self, fact: Fact[Any]) -> object:
        if self._provider is None:  # given values: a fact made per argument is empty
            return self._values.setdefault(fact.name, fact.default)
        computed = self._provider(fact.source)
        for other in ALL_FACTS:
            if other.source == fact.source:
                self._values.setdefault(other.name, computed.get(other.name, other.default))
        return self._values.setdefault(fact.name, computed.get(fact.name, fact.default))

    def known(self, fact: Fact[Any]) -> bool:
        """Has the fact been computed (or given)?"""
        return fact.name in self._values

    # --- what the engine uses to key findings by the facts they depend on

    def watch(self) -> None:
        """Start recording the facts read (and their values), until :meth:`reads`."""
        self._reads = {}

    def reads(self) -> Reads:
        """The facts read since :meth:`watch`, with the numbers of their values; stops recording."""
        found = tuple((fact, value_id(value)) for fact, value in self._reads.items()) if self._reads else ()
        self._reads = None
        return found

    def allow(self, facts: Iterable[Fact[Any]] | None) -> None:
        """Only these facts are declared until the next call (None: any); others read are noted
        in :attr:`undeclared`."""
        self._allowed = frozenset(facts) if facts is not None else None

    def matches(self, reads: Reads) -> bool:
        """Do these facts have these values here?  (Computes those not known yet.)"""
        allowed, self._allowed = self._allowed, None
        try:
            return all(value_id(self.get(fact)) == number for fact, number in reads)
        finally:
            self._allowed = allowed

    def fingerprint(self, facts: Iterable[Fact[Any]] = ALL_FACTS) -> Hashable:
        """The values of these facts (all by default), hashable."""
        return tuple(self.get(fact) for fact in facts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackageFacts):
            return NotImplemented
        return self is other or self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self._values.items() if value)
        return f"PackageFacts({shown})"

    # --- the facts as attributes, as the rules read them

    @property
    def handlers(self) -> frozenset[str]:
        return self.get(PER_REQUEST)

    @property
    def startup(self) -> frozenset[str]:
        return self.get(RUNS_ONCE)

    @property
    def repeated(self) -> frozenset[str]:
        return self.get(REPEATED)

    @property
    def goroutines(self) -> frozenset[str]:
        return self.get(GOROUTINES)

    @property
    def endless(self) -> frozenset[str]:
        return self.get(ENDLESS)

    @property
    def abandoned(self) -> frozenset[tuple[str, str]]:
        return self.get(ABANDONED)

    @property
    def lifecycles(self) -> frozenset[tuple[str, str, str]]:
        return self.get(LIFECYCLES)

    @property
    def runners(self) -> frozenset[tuple[str, str, str]]:
        return self.get(RUNNERS)

    @property
    def constructors(self) -> frozenset[tuple[str, str]]:
        return self.get(CONSTRUCTORS)

    @property
    def closable(self) -> frozenset[str]:
        return self.get(CLOSABLE)

    @property
    def globals(self) -> frozenset[str]:
        return self.get(GLOBALS)

    @property
    def collections(self) -> frozenset[str]:
        return self.get(COLLECTIONS)

    @property
    def shrunk_globals(self) -> frozenset[str]:
        return self.get(SHRUNK_GLOBALS)

    @property
    def shrunk_fields(self) -> frozenset[str]:
        return self.get(SHRUNK_FIELDS)

    @property
    def flags(self) -> frozenset[str]:
        return self.get(FLAGS)

    @property
    def db_fields(self) -> frozenset[tuple[str, str, str]]:
        return self.get(DB_FIELDS)

    @property
    def field_uses(self) -> frozenset[str]:
        return self.get(FIELD_USES)

    @property
    def locks(self) -> LockFacts:
        return self.get(LOCKS)

    @property
    def siblings(self) -> tuple[tuple[str, int, int], ...]:
        return self.get(SIBLINGS)

