"""lock-not-released: a mutex locked on a path that returns without unlocking it, or locked twice."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tree_sitter import Node

from golsp_leaks.goanalysis.dataflow.engine import ExitReport, Paths, follow, related_locations
from golsp_leaks.goanalysis.libraries.frameworks import element_types, receiver
from golsp_leaks.goanalysis.names.holders import top_level
from golsp_leaks.goanalysis.resources.sync import (
    Occurrence,
    chain,
    occurrences,
    package_locks,
    root_declaration,
    sync_kind,
)
from golsp_leaks.goanalysis.resources.tracking import aligned_comments
from golsp_leaks.goanalysis.summaries.facts import LOCKS, SCOPE_FACTS
from golsp_leaks.goanalysis.syntax.edits import (
    delete_statement,
    insert_statement_after,
    only_return_after,
)
from golsp_leaks.goanalysis.syntax.nodes import (
    FUNCTION_TYPES,
    call_name,
    enclosing_function,
    inside_statement,
    statements,
    text,
)
from golsp_leaks.goanalysis.syntax.parse import cursor
from golsp_leaks.model import Applicability, Edit, Finding, Fix, Related, Severity
from golsp_leaks.rules.base import FileContext, FixKind, Rule

_LOCKS = {"Lock": "Unlock", "RLock": "RUnlock"}
_LOCK_OPS = frozenset({"Lock", "RLock", "Unlock", "RUnlock"})
_LOCK_METHODS = frozenset({"", "Lock", "RLock", "Unlock", "RUnlock", "TryLock", "TryRLock"})
_CALLED = """
(call_expression function: [(identifier) @name (selector_expression field: (field_identifier) @name)]) @call
"""
_LOCK_CALLS = """
(expression_statement
  (call_expression
    function: (selector_expression field: (field_identifier) @method)
    arguments: (argument_list) @args)) @stmt
"""
#: Functions that return with the lock held by contract: ``lock()``, ``lockShard()``, ``acquireLocked()``.
_HOLDS_BY_NAME = re.compile(r"^(lock|Lock|rlock|RLock|acquire|Acquire|tryLock|TryLock)|(Lock|Locked|locked)$")
_DOC_SAYS_HELD = re.compile(r"(?i)(lock(ed)? held|holding the lock|caller must (call )?unlock|returns? locked|must be unlocked|with .{0,20}locked)")


@dataclass(frozen=True)
class _Lock:
    stmt: Node
    expr: Node
    method: str


class LockNotReleased(Rule):
    """
    ## What it does
    Reports a `sync.Mutex` or `sync.RWMutex` — a variable, a struct field, or a
    mutex embedded in a struct — locked with `Lock()` or `RLock()` on a path that
    reaches a `return` (or the end of the function) without the matching
    `Unlock()`/`RUnlock()`, when other paths of the same function do release it.
    It also reports a mutex locked again on a path where it is already held (a
    second `Lock`, or a loop that comes back to the `Lock` without unlocking),
    and a call, with the lock held, to a method of the same type that takes the
    same lock — on the receiver, or on a value ranged over from a slice of the
    package's type (`for _, a := range accounts { a.mu.RLock(); a.name() }`).  Paths that end in a `panic` or exit the process are not
    reported, nor functions that hold the lock on purpose: a function that never
    unlocks it (a `lock()` wrapper), one named like `lockShard` or
    `...Locked`, one that unlocks before it locks (it is called with the lock
    held), or one that returns with the lock held on its main path.

    ## Why is this bad?
    A mutex left locked blocks every later `Lock` for ever: the next request
    that needs it hangs, and the one after it, until the service stops answering.
    Go mutexes are not reentrant, so locking twice on one goroutine, or calling
    a method that locks while holding the lock, deadlocks at once; and a
    recursive `RLock` deadlocks as soon as a writer waits between the two.

    ## Example
    ```go
    func (c *Cache) Get(key string) (Item, error) {
        c.mu.Lock()
        if c.closed {
            return Item{}, errClosed // c.mu is still locked
        }
        item := c.items[key]
        c.mu.Unlock()
        return item, nil
    }
    ```

    ## Use instead
    ```go
    func (c *Cache) Get(key string) (Item, error) {
        c.mu.Lock()
        defer c.mu.Unlock()
        if c.closed {
            return Item{}, errClosed
        }
        item := c.items[key]
        return item, nil
    }
    ```

    ## Fix safety
    The fix inserts `defer mu.Unlock()` right after the `Lock` and deletes the
    function's explicit unlocks.  It is offered only when that changes nothing
    but the leaking paths: the `Lock` is a statement of the function's body
    (not in a loop or a branch), it is the only lock of that mutex in the
    function, no closure mentions the mutex, and every explicit unlock is
    directly followed by a `return` without calls (or ends the function), so
    the lock is held to the end anyway.  Otherwise no fix is offered: moving
    an unlock in the middle of a function to its end would widen the critical
    section, and could itself deadlock.
    """

    id = "lock-not-released"
    summary = "a mutex is not unlocked on every path, or is locked again while held"
    default_severity = Severity.WARNING
    requires = (*SCOPE_FACTS, LOCKS)
    fix_kinds = (FixKind("Insert `defer {call}` after the Lock", Applicability.SAFE),)
    #: A finding starts at a ``m.Lock()`` or ``m.RLock()`` statement (``_LOCK_CALLS``): a file that only
    #: declares ``Lock()`` or calls ``TryLock()`` has none.
    triggers = (b".Lock()", b".RLock()")

    def check(self, decl: Node, ctx: FileContext) -> Iterable[Finding]:
        if b"sync" not in ctx.source and not (ctx.package.locks.mutex_fields or ctx.package.locks.lock_types):
            return  # no mutex declared in the file or the package's other files
        locks = list(_lock_statements(decl, ctx))
        if not locks:
            return
        helpers_of: dict[int, set[int]] = {}  # by function: asked once, whatever its number of locks
        for lock in locks:
            yield from self._check_lock(lock, locks, decl, ctx, helpers_of)

    def _check_lock(
        self, lock: _Lock, locks: list[_Lock], decl: Node, ctx: FileContext, helpers_of: dict[int, set[int]]
    ) -> Iterable[Finding]:
        func = enclosing_function(lock.stmt)
        if func is None:
            return
        name = text(lock.expr)
        mentions = list(occurrences(lock.expr, func, ctx.source))
        releases = [m for m in mentions if m.method not in _LOCKS and _releases(m, ctx)]
        helpers = helpers_of.get(func.id)
        if helpers is None:
            helpers = helpers_of[func.id] = _helper_releases(func, ctx)
        again = [
            other
            for other in locks
            if other.stmt != lock.stmt
            and enclosing_function(other.stmt) == func
            and any(m.node == other.expr for m in mentions)
        ]
        calls = _locking_calls(lock.expr, func, ctx)
        released = {m.node.start_byte for m in releases} | helpers
        report = follow(func, Paths(lock.stmt, uses=sorted(released)), source=ctx.source)
        # Only a finding says whether it runs per request: asking costs the package's facts.
        per_request = functools.cache(lambda: ctx.scope.is_per_request(lock.stmt))
        locked_here = Related(lock.stmt.start_byte, lock.stmt.end_byte, f"{name} is locked here")
        relocked: list[Node] = []
        if again or calls:
            # A deferred unlock keeps the lock until the function returns: it does not end the hold here.
            held = Paths(
                lock.stmt,
                uses=sorted(r for r in released if not _inside_defer_at(r, func)),
                overwritten=sorted({o.stmt.start_byte for o in again} | {c.start_byte for c, _ in calls}),
            )
            relocked = follow(func, held, source=ctx.source).overwritten
        for node in relocked:
            method = next((m for c, m in calls if node.start_byte <= c.start_byte < node.end_byte), None)
            how = (
                "the goroutine deadlocks as soon as a writer waits in between"
                if lock.method == "RLock"
                else "the goroutine deadlocks"
            )
            if method is not None:
                message = f"{method} locks {name} again while it is held: {how}"
            else:
                message = f"{name} is locked again while it is held: {how}"
            yield Finding(
                rule=self.id,
                start=node.start_byte,
                end=node.end_byte,
                message=message,
                related=(locked_here,),
                per_request=per_request(),
            )
        if report.reacquired and not relocked and not _conditional_lock(lock, mentions) and not _declared_in_loop(lock, ctx.source):
            yield Finding(
                rule=self.id,
                start=lock.stmt.start_byte,
                end=lock.stmt.end_byte,
                message=f"the loop comes back to {name}.{lock.method}() with {name} still locked: the goroutine deadlocks",
                per_request=per_request(),
            )
        if not (report.missed or report.falls_off_end_unused) or not (releases or helpers):
            return  # released nowhere in the function: held past it on purpose (a lock() wrapper)
        if _holds_by_contract(func, lock, mentions, report):
            return
        unlock = _LOCKS[lock.method]
        related = related_locations(
            ExitReport(missed=report.missed, falls_off_end_unused=report.falls_off_end_unused),
            func,
            lock.stmt,
            f"with {name} still locked",
        )
        if not related:
            return
        yield Finding(
            rule=self.id,
            start=lock.stmt.start_byte,
            end=lock.stmt.end_byte,
            message=f"{name} is not unlocked on every path: a return leaves it locked and the next {name}.Lock() blocks for ever",
            related=tuple(related),
            fixes=tuple(_fix(lock, func, mentions, unlock, ctx) if not again and not helpers else ()),
            per_request=per_request(),
        )


def _lock_statements(decl: Node, ctx: FileContext) -> Iterable[_Lock]:
    for _, captures in cursor(_LOCK_CALLS).matches(decl):
        method = text(captures["method"][0])
        if method not in _LOCKS or captures["args"][0].named_child_count:
            continue
        selector = captures["method"][0].parent
        expr = selector.child_by_field_name("operand") if selector is not None else None
        func = enclosing_function(captures["stmt"][0])
        if expr is None or func is None or chain(expr) is None:
            continue
        if sync_kind(expr, ctx, func) is None:
            continue
        yield _Lock(captures["stmt"][0], expr, method)


def _releases(mention: Occurrence, ctx: FileContext) -> bool:
    """Does this mention release the lock, or hand the mutex on (and with it, perhaps, the unlock)?"""
    if mention.method in ("Unlock", "RUnlock"):
        return True
    if not mention.method and _argument_of_imported(mention.node, ctx):
        return False  # fmt.Errorf("%v", s): formatted, not unlocked
    # s.closed, s.mu.TryLock: a field or another method of the value; passed (&mu), stored,
    # returned: someone else may unlock it.
    return not mention.method


def _argument_of_imported(node: Node, ctx: FileContext) -> bool:
    """Is ``node`` an argument of a call of another package's function (``fmt.Errorf``, ``log.Printf``)?"""
    arguments = node.parent
    call = arguments.parent if arguments is not None and arguments.type == "argument_list" else None
    name = call_name(call) if call is not None else None
    return name is not None and bool(name[0]) and ctx.imports.path_of(name[0]) is not None


def _helper_releases(func: Node, ctx: FileContext) -> set[int]:
    """Calls of the package's functions that release a lock (``s.unlock()``, ``finish(s)``)."""
    helpers = package_locks(ctx).unlocking
    if not helpers:
        return set()
    found: set[int] = set()
    qc = cursor(_CALLED)
    qc.set_byte_range(func.start_byte, func.end_byte)
    for _, captures in qc.matches(func):
        name = text(captures["name"][0])
        if name in helpers and name not in ("Unlock", "RUnlock"):
            found.add(captures["call"][0].start_byte)
    return found


def _locking_calls(expr: Node, func: Node, ctx: FileContext) -> list[tuple[Node, str]]:
    """Calls ``r.m()`` of a method of the receiver's type that takes the lock ``r.<path>`` held here."""
    names = chain(expr)
    decl = top_level(func)
    recv = receiver(decl)
    if names is None:
        return []
    if recv is not None and recv[0] and text(names[0]) == recv[0]:
        type_name = recv[1]
    else:
        # A value of the package's type ranged over (for _, a := range accounts): its methods too.
        type_name = element_types(decl).get(text(names[0]), "")
    path = ".".join(text(n) for n in names[1:])
    facts = package_locks(ctx)
    if not type_name or not any(t == type_name and p == path for t, _, p in facts.locking):
        return []
    found: list[tuple[Node, str]] = []
    for mention in occurrences(names[0], func, ctx.source):
        call = mention.call
        if call is None or enclosing_function(call) != func or (call.parent is not None and call.parent.type == "go_statement"):
            continue  # run by another goroutine: it waits for the lock, it does not deadlock
        if mention.method and facts.takes_lock(type_name, mention.method, path):
            found.append((call, f"{text(names[0])}.{mention.method}()"))
    return found


def _holds_by_contract(func: Node, lock: _Lock, mentions: list[Occurrence], report: ExitReport) -> bool:
    """Does the function return with the lock held on purpose?"""
    decl = top_level(func)
    if func == decl or func.parent is None:
        name = text(decl.child_by_field_name("name"))
        if _HOLDS_BY_NAME.search(name):
            return True
        if _DOC_SAYS_HELD.search(_doc_comment(decl)):
            return True
    first = next((m for m in mentions if m.method in _LOCK_OPS and not inside_statement(m.node, func, "defer_statement")), None)
    if first is not None and first.method in ("Unlock", "RUnlock"):
        return True  # unlocks before it locks: called with the lock held, gives it back held
    if report.falls_off_end_unused:
        return True  # the main path keeps the lock: a function that acquires it for its caller
    body = func.child_by_field_name("body")
    last = statements(body)[-1] if statements(body) else None
    if last is not None and last.type == "return_statement" and any(r == last for r in report.missed):
        return True
    return _conditional_lock(lock, mentions)


def _conditional_lock(lock: _Lock, mentions: list[Occurrence]) -> bool:
    """``if locking { mu.Lock() }`` ... ``if locking { mu.Unlock() }``: the same test guards both."""
    guard = _guarding_if(lock.stmt)
    if guard is None:
        return False
    condition = text(guard.child_by_field_name("condition"))
    for mention in mentions:
        other = _guarding_if(mention.node) if mention.method in ("Unlock", "RUnlock") else None
        if other is not None and other != guard and text(other.child_by_field_name("condition")) == condition:
            return True
    return False


def _declared_in_loop(lock: _Lock, source: bytes) -> bool:
    """Is the mutex's root variable declared inside the loop around the lock: a new one at each pass?"""
    declaration = root_declaration(lock.expr, source)
    if declaration is None:
        return False
    current = lock.stmt.parent
    while current is not None and current.type not in FUNCTION_TYPES:
        if current.type == "for_statement":
            body = current.child_by_field_name("body")
            return body is not None and body.start_byte <= declaration.node.start_byte < body.end_byte
        current = current.parent
    return False


def _guarding_if(node: Node) -> Node | None:
    """The innermost ``if`` statement of the function around ``node``."""
    current = node.parent
    while current is not None and current.type not in FUNCTION_TYPES:
        if current.type == "if_statement":
            return current
        current = current.parent
    return None


def _inside_defer_at(offset: int, func: Node) -> bool:
    node = func.descendant_for_byte_range(offset, offset + 1)
    return node is not None and inside_statement(node, func, "defer_statement")


def _doc_comment(decl: Node) -> str:
    lines: list[str] = []
    previous = decl.prev_named_sibling
    end_row = decl.start_point.row
    while previous is not None and previous.type == "comment" and previous.end_point.row == end_row - 1:
        lines.append(text(previous))
        end_row = previous.start_point.row
        previous = previous.prev_named_sibling
    return " ".join(reversed(lines))


def _fix(lock: _Lock, func: Node, mentions: list[Occurrence], unlock: str, ctx: FileContext) -> list[Fix]:
    body = func.child_by_field_name("body")
    if lock.stmt not in statements(body):
        return []
    edits: list[Edit] = []
    for mention in mentions:
        if mention.node == lock.expr or mention.method not in _LOCK_METHODS:
            continue  # the lock itself, or a field or method of the struct that embeds the mutex
        if mention.method != unlock or enclosing_function(mention.node) != func:
            return []  # a closure, a hand-over or another method: the lock's life is not this function's
        call = mention.call
        stmt = call.parent if call is not None else None
        if stmt is None or stmt.type != "expression_statement" or stmt.parent is None:
            return []
        if not only_return_after(stmt, body):
            return []  # unlocked in the middle: a defer would widen the critical section
        if aligned_comments(ctx.source, stmt.start_byte):
            return []
        removal = delete_statement(ctx.source, stmt)
        if removal is None:
            return []
        edits.append(removal)
    if aligned_comments(ctx.source, lock.stmt.start_byte):
        return []
    release = f"{text(lock.expr)}.{unlock}()"
    insert = insert_statement_after(ctx.source, lock.stmt, f"defer {release}")
    if insert is None:
        return []
    return [Fix(f"Insert `defer {release}` after the Lock", (insert, *edits), Applicability.SAFE)]

