"""What a source file declares, found statically: top-level symbols, signatures, HTTP routes.

Python is read with ``ast`` (parsed, never imported: the code is hostile); JavaScript and
TypeScript with a few patterns. A file that does not parse yields nothing rather than an
error; every line is cut at ``MAX_LINE_CHARS`` so a hostile default value cannot flood a
prompt.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

MAX_LINE_CHARS = 160
MAX_PARSE_CHARS = 400_000
"""Larger sources are not parsed (a generated file, or an attempt to make parsing slow)."""

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
_JS_SYMBOL = re.compile(
    r"^(?:export\s+(?:default\s+)?)?(?:async\s+)?(function\s*\*?\s*\w+\s*\([^)]*\)|class\s+\w+)",
    re.MULTILINE,
)
_JS_ROUTE = re.compile(
    r"\b\w+\.(get|post|put|patch|delete|all)\(\s*(['\"`])(/[^'\"`]*)\2", re.IGNORECASE
)
_NODE_URL = re.compile(r"""(?:req|request)\.url\s*===?\s*(['"])(/[^'"]*)\1""")


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 3] + "..."


def _parse(source: str) -> ast.Module | None:
    if len(source) > MAX_PARSE_CHARS:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _class(node: ast.ClassDef, public: bool) -> str:
    bases = ", ".join(ast.unparse(b) for b in node.bases)
    methods = [
        n.name
        for n in node.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and (not public or not n.name.startswith("_") or n.name == "__init__")
    ]
    head = f"class {node.name}({bases})" if bases else f"class {node.name}"
    return head + (f": {', '.join(methods)}" if methods else "")


def python_symbols(source: str, *, public: bool = False) -> list[str]:
    """Top-level functions (with signatures) and classes (with their methods) of a module;
    ``public`` leaves out names starting with ``_``."""
    tree = _parse(source)
    if tree is None:
        return []
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if public and node.name.startswith("_"):
                continue
            text = _class(node, public) if isinstance(node, ast.ClassDef) else _signature(node)
            found.append(_cut(text))
    return found


def python_routes(source: str) -> list[str]:
    """``METHOD /path -> function`` for decorators such as ``@app.get("/x")``,
    ``@router.post(...)``, ``@app.route("/x", methods=[...])`` (FastAPI, Flask, Starlette)."""
    tree = _parse(source)
    if tree is None:
        return []
    routes = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)):
                continue
            if not deco.args or not isinstance(deco.args[0], ast.Constant):
                continue
            path, verb = deco.args[0].value, deco.func.attr.lower()
            if not isinstance(path, str) or not path.startswith("/"):
                continue
            if verb in HTTP_METHODS:
                routes.append(_cut(f"{verb.upper()} {path} -> {node.name}"))
            elif verb in ("route", "api_route", "websocket"):
                methods = ["GET"] if verb != "websocket" else ["WEBSOCKET"]
                for kw in deco.keywords:
                    if kw.arg == "methods" and isinstance(kw.value, ast.List | ast.Tuple):
                        methods = [
                            str(e.value).upper()
                            for e in kw.value.elts
                            if isinstance(e, ast.Constant)
                        ]
                routes.append(_cut(f"{'|'.join(methods)} {path} -> {node.name}"))
    return routes


def js_symbols(source: str) -> list[str]:
    """Top-level functions and classes of a JavaScript/TypeScript file (by pattern)."""
    if len(source) > MAX_PARSE_CHARS:
        return []
    return [_cut(m.group(1)) for m in _JS_SYMBOL.finditer(source)]


def js_routes(source: str) -> list[str]:
    """Express-style ``app.get('/x', ...)`` routes and plain ``req.url === '/x'`` checks."""
    if len(source) > MAX_PARSE_CHARS:
        return []
    found = [f"{m.group(1).upper()} {m.group(3)}" for m in _JS_ROUTE.finditer(source)]
    found += [f"ANY {m.group(2)}" for m in _NODE_URL.finditer(source)]
    return [_cut(r) for r in found]


def is_source(path: str) -> bool:
    return PurePosixPath(path).suffix in (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx")


def symbols(path: str, source: str, *, public: bool = False) -> list[str]:
    """The declarations of ``path`` by its language (empty for other files)."""
    if path.endswith(".py"):
        return python_symbols(source, public=public)
    return js_symbols(source) if is_source(path) else []


def routes(path: str, source: str) -> list[str]:
    """The HTTP routes ``path`` declares (empty for other files)."""
    if path.endswith(".py"):
        return python_routes(source)
    return js_routes(source) if is_source(path) else []
