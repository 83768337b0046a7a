"""Parse policy text into the syntax tree of ``nonoc.syntax.ast``.

The grammar (``grammar/nono.lark``) is the single source of the syntax. It is compiled
into an LALR parser once per process (a module-level singleton; building it costs a few
tens of milliseconds, parsing a 200-line profile about a millisecond more). Lark's syntax
errors are turned into ``NonoError`` diagnostics that speak of quoted strings and
statements rather than token names; see ``nonoc.syntax.messages``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from nonoc.errors import NonoError, Span
from nonoc.resources import data_file
from nonoc.syntax import ast
from nonoc.syntax.messages import syntax_error

#: How deeply `on` blocks may nest (one level is all a policy needs; this bounds recursion).
MAX_NESTING = 16

_PARSER: Lark | None = None
_LOCK = threading.Lock()


def grammar_parser() -> Lark:
    """The compiled parser for ``grammar/nono.lark``, built on first use and then shared."""
    global _PARSER
    if _PARSER is None:
        with _LOCK:
            if _PARSER is None:
                _PARSER = Lark(
                    data_file("grammar/nono.lark").read_text(encoding="utf-8"),
                    parser="lalr",
                    lexer="contextual",
                    propagate_positions=True,
                    maybe_placeholders=False,
                    start=["start", "statements"],
                )
    return _PARSER


def parse(text: str, filename: str) -> ast.SourceFile:
    """Parse ``text`` (the contents of ``filename``) into a ``SourceFile``.

    Raises ``NonoError`` with the position of the first syntax error.
    """
    lines = text.splitlines()
    tree = _parse_tree(text, filename, lines, "start")
    return _Builder(filename, text, lines).source_file(tree)


def parse_statements(text: str, filename: str) -> tuple[ast.Statement, ...]:
    """Parse a bare list of statements (a body without braces), e.g. a command-line flag."""
    lines = text.splitlines()
    tree = _parse_tree(text, filename, lines, "statements")
    return _Builder(filename, text, lines).body(tree)


def _parse_tree(text: str, filename: str, lines: list[str], start: str) -> Tree[Token]:
    parser = grammar_parser()
    try:
        return parser.parse(text, start=start)
    except UnexpectedInput as exc:
        raise syntax_error(exc, text, filename, lines, parser) from None


class _Builder:
    """Walks Lark's tree for one file and builds AST nodes with spans."""

    def __init__(self, filename: str, text: str, lines: Sequence[str]) -> None:
        self.filename = filename
        self.source = text
        self.lines = lines
        self.depth = 0
        self._statements: dict[str, Callable[[Tree[Token]], ast.Statement]] = {
            "use_stmt": self._use,
            "path_rule": self._path_rule,
            "deny_rule": self._deny_rule,
            "assert_stmt": self._assert,
            "network_stmt": self._network,
            "port_stmt": self._port,
            "scope_stmt": self._scope,
            "setting_stmt": self._setting,
            "abi_stmt": self._abi,
            "protect_stmt": self._protect,
            "env_keep": self._env_keep,
            "env_set": self._env_set,
            "command_stmt": self._command,
            "unix_socket_stmt": self._unix_socket,
            "syscall_stmt": self._syscall,
            "platform_block": self._platform,
        }

    # --- spans ------------------------------------------------------------------------

    def span_at(self, line: int, column: int, end_line: int | None, end_column: int | None) -> Span:
        """A span starting at ``line:column`` (1-based); the end column is kept on one line."""
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        end = end_column if end_line == line else None
        return Span(self.filename, line, column, end, source)

    def token_span(self, token: Token) -> Span:
        """The span of one token."""
        return self.span_at(token.line or 0, token.column or 0, token.end_line, token.end_column)

    def tree_span(self, tree: Tree[Token]) -> Span:
        """The span of a statement: its first line, from its first token."""
        meta = tree.meta
        return self.span_at(meta.line, meta.column, meta.end_line, meta.end_column)

    # --- leaves -------------------------------------------------------------------------

    def word(self, token: Token) -> ast.Word:
        """A NAME token as a ``Word``."""
        return ast.Word(str(token), self.token_span(token))

    def text(self, token: Token) -> ast.Text:
        """A STRING token, unescaped."""
        return ast.Text(_unescape(token, self.token_span(token)), self.token_span(token))

    def number(self, token: Token) -> ast.Number:
        """An INT token (decimal or 0x hexadecimal)."""
        raw = str(token)
        value = int(raw, 16) if raw[:2].lower() == "0x" else int(raw, 10)
        return ast.Number(value, self.token_span(token))

    def value(self, tree: Tree[Token]) -> ast.Word | ast.Number:
        """A ``value`` subtree: a number or a symbolic name."""
        token = _tokens(tree)[0]
        return self.number(token) if token.type == "INT" else self.word(token)

    def texts(self, tree: Tree[Token]) -> tuple[ast.Text, ...]:
        """Every STRING directly under ``tree``."""
        return tuple(self.text(t) for t in _tokens(tree) if t.type == "STRING")

    # --- top level ------------------------------------------------------------------------

    def source_file(self, tree: Tree[Token]) -> ast.SourceFile:
        """Build the ``SourceFile`` from the ``start`` tree."""
        imports: list[ast.Import] = []
        groups: list[ast.GroupDef] = []
        profiles: list[ast.ProfileDef] = []
        abi: ast.Setting | None = None
        for item in _subtrees(tree):
            if item.data == "import_stmt":
                tokens = _tokens(item)
                stdlib = any(t.type == "STDLIB" for t in tokens)
                target = self.text(next(t for t in tokens if t.type == "STRING"))
                imports.append(ast.Import(target, self.tree_span(item), stdlib))
            elif item.data == "abi_stmt":
                setting = self._abi(item)
                if abi is not None:
                    raise NonoError(
                        f"the file already pins 'abi' at line {abi.span.line}; one pin per file",
                        setting.span,
                    )
                abi = setting
            elif item.data == "group_def":
                groups.append(self._group(item))
            elif item.data == "profile_def":
                profiles.append(self._profile(item))
        return ast.SourceFile(
            name=self.filename,
            text=self.source,
            imports=tuple(imports),
            abi=abi,
            groups=tuple(groups),
            profiles=tuple(profiles),
        )

    def _group(self, tree: Tree[Token]) -> ast.GroupDef:
        tokens = _tokens(tree)
        name = next(t for t in tokens if t.type == "NAME")
        descriptions = [t for t in tokens if t.type == "STRING"]
        return ast.GroupDef(
            name=self.word(name),
            body=self.body(_child(tree, "body")),
            span=self.tree_span(tree),
            description=self.text(descriptions[0]).value if descriptions else "",
            mandatory=any(t.type == "MANDATORY" for t in tokens),
        )

    def _profile(self, tree: Tree[Token]) -> ast.ProfileDef:
        tokens = _tokens(tree)
        name = next(t for t in tokens if t.type == "NAME")
        descriptions = [t for t in tokens if t.type == "STRING"]
        extends = _child(tree, "extends")
        parents = tuple(self.word(t) for t in _tokens(extends)) if extends is not None else ()
        return ast.ProfileDef(
            name=self.word(name),
            body=self.body(_child(tree, "body")),
            span=self.tree_span(tree),
            extends=parents,
            description=self.text(descriptions[0]).value if descriptions else "",
        )

    def body(self, tree: Tree[Token] | None) -> tuple[ast.Statement, ...]:
        """The statements of a ``{ ... }`` body, in source order."""
        if tree is None:
            return ()
        return tuple(self._statements[str(stmt.data)](stmt) for stmt in _subtrees(tree))

    # --- statements ---------------------------------------------------------------------

    def _use(self, tree: Tree[Token]) -> ast.Statement:
        return ast.Use(tuple(self.word(t) for t in _tokens(tree)), self.tree_span(tree))

    def _path_rule(self, tree: Tree[Token]) -> ast.Statement:
        tokens = _tokens(tree)
        verb = _tokens(_child(tree, "verb"))[0]
        return ast.PathRule(
            verb=str(verb),
            paths=self.texts(tree),
            span=self.tree_span(tree),
            file=any(t.type == "FILE" for t in tokens),
            required=any(t.type == "REQUIRE" for t in tokens),
        )

    def _deny_rule(self, tree: Tree[Token]) -> ast.Statement:
        return ast.DenyRule(
            paths=self.texts(tree),
            span=self.tree_span(tree),
            file=any(t.type == "FILE" for t in _tokens(tree)),
        )

    def _assert(self, tree: Tree[Token]) -> ast.Statement:
        verb = _tokens(_child(tree, "verb"))[0]
        return ast.Assert(str(verb), self.texts(tree)[0], self.tree_span(tree))

    def _network(self, tree: Tree[Token]) -> ast.Statement:
        mode = self.word(_tokens(tree)[0])
        hosts: list[ast.Text] = []
        routes: list[ast.CredentialRouteDef] = []
        block = _child(tree, "proxy_hosts")
        if block is not None:
            for entry in _subtrees(block):
                if entry.data == "credential_route":
                    routes.append(self._credential_route(entry))
                else:
                    hosts.extend(self.texts(entry))
        return ast.NetworkSetting(mode, tuple(hosts), self.tree_span(tree), tuple(routes))

    def _credential_route(self, tree: Tree[Token]) -> ast.CredentialRouteDef:
        fields = []
        for field in _subtrees(tree):
            key, value = _tokens(field)
            fields.append(ast.RouteField(self.word(key), self.text(value), self.tree_span(field)))
        name = self.text(_tokens(tree)[0])
        return ast.CredentialRouteDef(name, tuple(fields), self.tree_span(tree))

    def _port(self, tree: Tree[Token]) -> ast.Statement:
        tokens = _tokens(tree)
        ports = tuple(self.number(t) for t in tokens if t.type == "INT")
        return ast.PortRule(self.word(tokens[0]), ports, self.tree_span(tree))

    def _scope(self, tree: Tree[Token]) -> ast.Statement:
        scope, value = _tokens(tree)
        return ast.ScopeSetting(self.word(scope), self.word(value), self.tree_span(tree))

    def _setting(self, tree: Tree[Token]) -> ast.Statement:
        key, value = _tokens(tree)
        return ast.Setting(str(key), self.word(value), self.tree_span(tree))

    def _abi(self, tree: Tree[Token]) -> ast.Setting:
        return ast.Setting("abi", self.number(_tokens(tree)[0]), self.tree_span(tree))

    def _protect(self, tree: Tree[Token]) -> ast.Statement:
        return ast.Protect(self.word(_tokens(tree)[0]), self.tree_span(tree))

    def _env_keep(self, tree: Tree[Token]) -> ast.Statement:
        return ast.EnvKeep(self.texts(tree), self.tree_span(tree))

    def _env_set(self, tree: Tree[Token]) -> ast.Statement:
        name, value = self.texts(tree)
        return ast.EnvSet(name, value, self.tree_span(tree))

    def _command(self, tree: Tree[Token]) -> ast.Statement:
        tokens = _tokens(tree)
        return ast.CommandRule(str(tokens[1]), self.texts(tree), self.tree_span(tree))

    def _unix_socket(self, tree: Tree[Token]) -> ast.Statement:
        return ast.UnixSocket(self.texts(tree), self.tree_span(tree))

    def _syscall(self, tree: Tree[Token]) -> ast.Statement:
        names_tree = _child(tree, "syscall_names")
        found = list(names_tree.scan_values(_is_token)) if names_tree is not None else []
        # The list is left-recursive in the grammar: put the names back in source order.
        names = tuple(self.word(t) for t in sorted(found, key=lambda t: (t.line, t.column)))
        errno_tree = _child(tree, "errno")
        conditions_tree = _child(tree, "condition_list")
        conditions: tuple[ast.Condition, ...] = ()
        if conditions_tree is not None:
            conditions = tuple(self._condition(c) for c in _subtrees(conditions_tree))
        return ast.SyscallRule(
            names=names,
            action=self.word(_tokens(tree)[0]),
            span=self.tree_span(tree),
            errno=self.word(_tokens(errno_tree)[0]) if errno_tree is not None else None,
            conditions=conditions,
        )

    def _condition(self, tree: Tree[Token]) -> ast.Condition:
        arg = self.word(_tokens(tree)[0])
        values = [self.value(v) for v in _subtrees(tree)]
        if tree.data == "masked":
            return ast.Condition(arg, "==", values[1], self.tree_span(tree), mask=values[0])
        op = next(t for t in _tokens(tree) if t.type == "COMPARE")
        return ast.Condition(arg, str(op), values[0], self.tree_span(tree))

    def _platform(self, tree: Tree[Token]) -> ast.Statement:
        platform = self.word(_tokens(tree)[0])
        span = self.tree_span(tree)
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise NonoError(f"'on' blocks nested deeper than {MAX_NESTING}", span)
        try:
            return ast.PlatformBlock(platform, self.body(_child(tree, "body")), span)
        finally:
            self.depth -= 1


def _is_token(value: Any) -> bool:
    return isinstance(value, Token)


def _tokens(tree: Tree[Token] | None) -> list[Token]:
    """The tokens directly under ``tree`` (not inside subtrees)."""
    if tree is None:
        return []
    return [c for c in tree.children if isinstance(c, Token)]


def _subtrees(tree: Tree[Token]) -> list[Tree[Token]]:
    return [c for c in tree.children if isinstance(c, Tree)]


def _child(tree: Tree[Token], name: str) -> Tree[Token] | None:
    for child in _subtrees(tree):
        if child.data == name:
            return child
    return None


_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def _unescape(token: Token, span: Span) -> str:
    """The value of a quoted string: ``\\\\``, ``\\"``, ``\\n``, ``\\t``, ``\\r`` are escapes."""
    raw = str(token)[1:-1]
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\":
            code = raw[i + 1]
            if code not in _ESCAPES:
                column = span.column + 1 + i
                raise NonoError(
                    f"unknown escape '\\{code}' in a string; known: \\\\ \\\" \\n \\t \\r",
                    Span(span.file, span.line, column, column + 2, span.source_line),
                )
            out.append(_ESCAPES[code])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)
