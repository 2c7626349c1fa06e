"""The control-flow graph of one function or function literal.

:func:`graph` builds it once per function (cached by the function's position in
its source) from the syntax tree.  A :class:`Block` holds the syntax nodes run
in order without a branch — statements, and the initializers, conditions and
headers of ``if``/``for``/``switch``/``select`` — and its successors.  Every
``return`` ends a block whose successor is :attr:`Graph.exit`; so does the end
of the body when control can fall off it (a block of kind ``"end"``).  Calls
that never return (``panic``, ``os.Exit``, ``log.Fatal*``/``Panic*``,
``t.Fatal*``/``FailNow``/``SkipNow``, ``runtime.Goexit``, and the package's
own functions named in ``never_return``) lead to :attr:`Graph.abort` instead.

Branches are explicit: the first block of each branch records in
:attr:`Block.guard` which statement chose it and how — the ``then`` or
``else`` of an ``if``, case *i* of a ``switch`` (and ``len(cases)`` for "no
case taken"), or ``LOOP_DONE`` for the way out of a loop at its condition —
so that an analysis can refine its state on a branch (nothing to release when
``err != nil``; a loop over a ticker's channel never ends by itself).
Labels, ``break``/``continue`` (with labels), ``goto``, ``fallthrough`` and
``select`` are followed; function literals inside are not entered: they have
graphs of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from golsp_leaks.goanalysis.syntax.nodes import function_named, is_no_return_call, statements

THEN = -1
ELSE = -2
LOOP_DONE = -3

@dataclass(eq=False)
class Block:
    index: int
    kind: str
    nodes: list[Node] = field(default_factory=list)
    succs: list[Block] = field(default_factory=list)
    preds: list[Block] = field(default_factory=list)
    #: The statement whose branch this block starts, and which branch (THEN, ELSE, LOOP_DONE or a case index).
    guard: tuple[Node, int] | None = None

    def __repr__(self) -> str:
        return f"Block({self.index}, {self.kind!r}, succs={[s.index for s in self.succs]})"

    @property
    def last(self) -> Node | None:
        return self.nodes[-1] if self.nodes else None


@dataclass(eq=False)
class Graph:
    func: Node
    entry: Block
    exit: Block
    abort: Block
    blocks: list[Block]
    #: The block control reaches after each ``if``/``for``/``switch``/``select``, by the statement's span.
    after: dict[tuple[int, int], Block] = field(default_factory=dict)

    def returns(self) -> Iterator[Block]:
        """The blocks that end the function normally: each ``return``, and the end of the body."""
        yield from self.exit.preds

    def reachable(self) -> set[int]:
        seen = {self.entry.index}
        stack = [self.entry]
        while stack:
            for succ in stack.pop().succs:
                if succ.index not in seen:
                    seen.add(succ.index)
                    stack.append(succ)
        return seen

    def may_return(self) -> bool:
        """Can the function return (or fall off its end) at all?"""
        return self.exit.index in self.reachable()


@dataclass
class _Target:
    label: str | None
    breaks: Block
    continues: Block | None


class _Builder:
    def __init__(self, func: Node, never_return: frozenset[str], source: bytes | None = None) -> None:
        self.func = func
        self.never_return = never_return
        self.source = source
        self.blocks: list[Block] = []
        self.entry = self.new("entry")
        self.exit = self.new("exit")
        self.abort = self.new("abort")
        self.targets: list[_Target] = []
        self.labels: dict[str, Block] = {}
        self.gotos: list[tuple[Block, str]] = []
        self.after: dict[tuple[int, int], Block] = {}

    def new(self, kind: str, guard: tuple[Node, int] | None = None) -> Block:
        block = Block(len(self.blocks), kind, guard=guard)
        self.blocks.append(block)
        return block

    @staticmethod
    def link(a: Block | None, b: Block) -> None:
        if a is not None:
            a.succs.append(b)
            b.preds.append(a)

    def build(self) -> Graph:
        body = self.func.child_by_field_name("body")
        end = self.seq(statements(body), self.entry)
        if end is not None:
            fall = self.new("end")
            self.link(end, fall)
            self.link(fall, self.exit)
        for block, label in self.gotos:
            target = self.labels.get(label)
            if target is not None:
                self.link(block, target)
        return Graph(self.func, self.entry, self.exit, self.abort, self.blocks, self.after)

    # --- statements -----------------------------------------------------------

    def seq(self, stmts: list[Node], cur: Block | None) -> Block | None:
        for stmt in stmts:
            if cur is None:
                cur = self.new("unreachable")  # code after a return: a block nothing leads to
            cur = self.stmt(stmt, cur)
        return cur

    def stmt(self, node: Node, cur: Block) -> Block | None:
        kind = node.type
        if kind == "block":
            return self.seq(statements(node), cur)
        if kind == "return_statement":
            cur.nodes.append(node)
            self.link(cur, self.exit)
            return None
        if kind == "if_statement":
            return self._if(node, cur)
        if kind == "for_statement":
            return self._for(node, cur, None)
        if kind in ("expression_switch_statement", "type_switch_statement"):
            return self._switch(node, cur, None)
        if kind == "select_statement":
            return self._select(node, cur, None)
        if kind == "labeled_statement":
            return self._labeled(node, cur)
        if kind in ("break_statement", "continue_statement"):
            self._jump(node, cur)
            return None
        if kind == "goto_statement":
            label = node.named_children[0] if node.named_child_count else None
            cur.nodes.append(node)
            if label is not None and label.text is not None:
                self.gotos.append((cur, label.text.decode()))
            return None
        if kind == "fallthrough_statement":
            return cur  # the switch links the end of this case to the next case's body
        cur.nodes.append(node)
        if is_no_return_call(node, self.never_return) or self._calls_function_that_never_returns(node):
            self.link(cur, self.abort)
            return None
        return cur

    def _calls_function_that_never_returns(self, stmt: Node) -> bool:
        """``fatal(err)``, a function of the same file whose every path ends the process (or panics)."""
        if self.source is None or stmt.type != "expression_statement" or not stmt.named_child_count:
            return False
        call = stmt.named_children[0]
        function = call.child_by_field_name("function") if call.type == "call_expression" else None
        if function is None or function.type != "identifier":
            return False
        return function.text is not None and never_returns(function.text.decode(), self.func, self.source)

    def _jump(self, node: Node, cur: Block) -> None:
        label_node = node.named_children[0] if node.named_child_count else None
        label = label_node.text.decode() if label_node is not None and label_node.text is not None else None
        cur.nodes.append(node)
        for target in reversed(self.targets):
            if label is not None and target.label != label:
                continue
            if node.type == "break_statement":
                self.link(cur, target.breaks)
                return
            if target.continues is not None:
                self.link(cur, target.continues)
                return
            if label is not None:
                return  # continue with the label of a switch: does not compile
        # A break or continue outside any loop does not compile: the path ends here.

    def _labeled(self, node: Node, cur: Block) -> Block | None:
        label_node = node.child_by_field_name("label")
        label = label_node.text.decode() if label_node is not None and label_node.text is not None else ""
        start = self.new("label")
        self.link(cur, start)
        self.labels[label] = start
        inner = node.named_children[-1] if node.named_child_count > 1 else None
        if inner is None:
            return start
        if inner.type == "for_statement":
            return self._for(inner, start, label)
        if inner.type in ("expression_switch_statement", "type_switch_statement"):
            return self._switch(inner, start, label)
        if inner.type == "select_statement":
            return self._select(inner, start, label)
        return self.stmt(inner, start)

    def _if(self, node: Node, cur: Block) -> Block | None:
        initializer = node.child_by_field_name("initializer")
        if initializer is not None:
            cur.nodes.append(initializer)
        condition = node.child_by_field_name("condition")
        if condition is not None:
            cur.nodes.append(condition)
        after = self.new("if.done")
        self.after[(node.start_byte, node.end_byte)] = after
        then = self.new("if.then", (node, THEN))
        self.link(cur, then)
        consequence = node.child_by_field_name("consequence")
        self.link(self.stmt(consequence, then) if consequence is not None else then, after)
        other = self.new("if.else", (node, ELSE))
        self.link(cur, other)
        alternative = node.child_by_field_name("alternative")
        self.link(self.stmt(alternative, other) if alternative is not None else other, after)
        return after if after.preds else None

    def _for(self, node: Node, cur: Block, label: str | None) -> Block | None:
        header = None
        for child in node.named_children:
            if child.type in ("for_clause", "range_clause"):
                header = child
            elif child.type not in ("block", "comment"):
                header = child  # a bare condition: for cond { }
        condition: Node | None = header
        update: Node | None = None
        if header is not None and header.type == "for_clause":
            initializer = header.child_by_field_name("initializer")
            if initializer is not None:
                cur.nodes.append(initializer)
            condition = header.child_by_field_name("condition")
            update = header.child_by_field_name("update")
        head = self.new("for.head")
        self.link(cur, head)
        if condition is not None:
            head.nodes.append(condition)
        after = self.new("for.done")
        self.after[(node.start_byte, node.end_byte)] = after
        post = self.new("for.post")
        if update is not None:
            post.nodes.append(update)
        self.link(post, head)
        body = self.new("for.body")
        self.link(head, body)
        if condition is not None:  # a loop with a condition or a range may stop at its head
            done = self.new("for.exit", (node, LOOP_DONE))
            self.link(head, done)
            self.link(done, after)
        self.targets.append(_Target(label, after, post))
        end = self.seq(statements(node.child_by_field_name("body")), body)
        self.targets.pop()
        self.link(end, post)
        return after if after.preds else None

    def _switch(self, node: Node, cur: Block, label: str | None) -> Block | None:
        for name in ("initializer", "value", "alias"):  # a type switch's alias is bound after its value
            child = node.child_by_field_name(name)
            if child is not None:
                cur.nodes.append(child)
        after = self.new("switch.done")
        self.after[(node.start_byte, node.end_byte)] = after
        self.targets.append(_Target(label, after, None))
        cases = [c for c in node.named_children if c.type in ("expression_case", "type_case", "default_case")]
        heads: list[Block] = []
        bodies: list[tuple[Block, Node]] = []
        for index, case in enumerate(cases):
            head = self.new("switch.case", (node, index))
            self.link(cur, head)
            for value_node in case.children_by_field_name("value"):
                head.nodes.append(value_node)
            body = self.new("switch.body")
            self.link(head, body)
            heads.append(head)
            bodies.append((body, case))
        for index, (body, case) in enumerate(bodies):
            stmts = _case_statements(case)
            end = self.seq(stmts, body)
            if stmts and stmts[-1].type == "fallthrough_statement" and index + 1 < len(bodies):
                self.link(end, bodies[index + 1][0])
            else:
                self.link(end, after)
        self.targets.pop()
        if not any(c.type == "default_case" for c in cases):
            none = self.new("switch.none", (node, len(cases)))
            self.link(cur, none)
            self.link(none, after)
        return after if after.preds else None

    def _select(self, node: Node, cur: Block, label: str | None) -> Block | None:
        after = self.new("select.done")
        self.after[(node.start_byte, node.end_byte)] = after
        self.targets.append(_Target(label, after, None))
        for index, case in enumerate(c for c in node.named_children if c.type in ("communication_case", "default_case")):
            head = self.new("select.case", (node, index))
            self.link(cur, head)
            communication = case.child_by_field_name("communication")
            if communication is not None:
                head.nodes.append(communication)
            self.link(self.seq(_case_statements(case), head), after)
        self.targets.pop()
        return after if after.preds else None


def _case_statements(case: Node) -> list[Node]:
    for child in case.named_children:
        if child.type == "statement_list":
            return statements(child)
    return []


_cache: dict[tuple[int, int, frozenset[str]], Graph] = {}
_cache_source: list[bytes] = []
#: Per source text: the file's functions by name, and which of them never return (None while being decided).
_never: dict[str, bool | None] = {}


def forget_texts() -> None:
    """Let go of the graphs of the last text (a closed document's, perhaps)."""
    _cache.clear()
    _cache_source.clear()
    _never.clear()


def never_returns(name: str, node: Node, source: bytes) -> bool:
    """Does the function ``name`` of the file holding ``node`` never return (every path exits or panics)?

    Decided once per source text from the function's own graph; a function that
    calls itself on the way is taken to return.
    """
    _use_source(source)
    if name in _never:
        return bool(_never[name])
    func = function_named(name, node, source)
    if func is None or func.child_by_field_name("body") is None:
        return False
    _never[name] = None  # recursion: assume it returns
    _never[name] = not graph(func, source).may_return()
    return bool(_never[name])


def _use_source(source: bytes) -> None:
    if not _cache_source or _cache_source[0] is not source:
        _cache.clear()
        _never.clear()
        _cache_source[:] = [source]


def graph(func: Node, source: bytes | None = None, never_return: frozenset[str] = frozenset()) -> Graph:
    """The control-flow graph of ``func`` (a function or method declaration, or a function literal).

    Built once per function of ``source`` (pass the file's bytes to share it between the rules that
    ask; then the file's own functions that never return end a path too); ``never_return`` names
    more functions of the package that never return.
    """
    if source is None:
        return _Builder(func, never_return).build()
    _use_source(source)
    key = (func.start_byte, func.end_byte, never_return)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = _Builder(func, never_return, source).build()
    return found
