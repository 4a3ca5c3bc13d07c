"""Reading spec files: discovery, YAML parsing, duplicate keys, and positions for messages.

Speed matters: a spec set may declare 100,000 client services. Measured on a 2-core machine,
100,000 clients with one service and one number each (36 MB of YAML) give a ``Desired`` in
about 10 s: libyaml composing the node tree ~4 s (the floor with PyYAML), building the data
~1.2 s, validation ~3 s, ``Desired`` ~1 s. PyYAML's own SafeConstructor would add ~4 s, and the
cyclic garbage collector, left running, tripled the total (``specs.__init__`` pauses it).

So no Python work is done per node that is not needed, and positions are kept in two ways:

* **While loading (always):** :class:`SpecLoader` is ``yaml.CSafeLoader`` (``SafeLoader`` when
  libyaml is missing) whose builder does one extra thing per *mapping*: it remembers the
  mapping's start mark, keyed by ``id()`` of the dict it built. That is what gives every client,
  service and phone number entry its :class:`~reconciler.model.Source` in ``Desired``. The few
  named entries (integrations, number ranges) also get their key's mark, read off the top two
  levels of the node tree before it is thrown away. Duplicate keys are caught there too, for the
  cost of a length comparison on mappings that have none.
* **Only when an error must be reported:** :meth:`Document.position` composes the file again
  (once per file, however many errors it has) and walks the node tree along the error's path (a
  pydantic ``loc``, or a path built by the domain rules) to the exact key or value. Keeping the
  node tree of a big file around instead would cost several times the memory of the data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.bounds import ALIAS_SLACK, MAX_DEPTH, SpecBounds, TooLarge, read_bounded
from reconciler.errors import SpecIssue
from reconciler.model import Source

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SUFFIXES = (".yaml", ".yml")
# sections keyed by name
NAMED_SECTIONS = ("integrations", "number_ranges", "products", "packages", "plans", "safety", "schedules")

PathPart = str | int
YamlPath = tuple[PathPart, ...]


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class Bounded(yaml.YAMLError):
    """A bound of the loader exceeded at ``node``: reported as a located spec problem."""

    def __init__(self, node: Node, message: str, hint: str) -> None:
        super().__init__(message)
        self.mark, self.message, self.hint = node.start_mark, message, hint


class SpecLoader(_BaseLoader):
    """A safe YAML loader that records mapping positions and collects duplicate keys.

    libyaml composes the node tree; :meth:`build` then turns it into plain data with a tight
    recursive walk instead of SafeConstructor's generic one (a quarter of its time on big files).
    Tags other than str, map and seq go through SafeConstructor, so values mean the same.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.budget = len(stream) + ALIAS_SLACK  # entries the file may build (see _spend)
        self.marks: dict[int, tuple[int, int]] = {}  # id(dict) -> 0-based (line, column)
        self.duplicates: list[tuple[str, Any, Any]] = []  # (key, first mark, second mark)

    def build(self, node: Node, depth: int = 0) -> Any:
        """The Python value of ``node``, ``depth`` levels below the document's root."""
        kind = node.__class__
        if kind is ScalarNode:
            if node.tag == _STR:
                return node.value
            constructor = self.yaml_constructors.get(node.tag)
            try:
                return constructor(self, node) if constructor else self.construct_object(node, deep=True)
            except ValueError:
                return node.value  # 2027-06-31 looks like a date but is none: the text, for rules to judge
        if depth >= MAX_DEPTH:
            raise Bounded(node, f"the YAML nests more than {MAX_DEPTH} levels deep",
                          "no spec needs more than ten levels: flatten this value")
        self._spend(len(node.value), node)
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self._mapping(node, depth + 1)
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            return [self.build(item, depth + 1) for item in node.value]
        self._spend_tree(node, depth)  # !!set, !!omap...: SafeConstructor builds them, unbounded
        return self.construct_object(node, deep=True)  # or an unknown tag (an error)

    def _spend(self, entries: int, node: Node) -> None:
        """Count ``entries`` against the file's budget: an alias builds its target again each
        time it is used, so nine anchors of nine aliases each would build 9**9 values."""
        self.budget -= entries
        if self.budget < 0:
            raise Bounded(node, "anchors and aliases (&name, *name, <<:) expand this file to more "
                                f"entries than it has characters (plus {ALIAS_SLACK:,})",
                          "write the values out instead of repeating aliases of aliases")

    def _spend_tree(self, node: Node, depth: int) -> None:
        if depth >= MAX_DEPTH:
            raise Bounded(node, f"the YAML nests more than {MAX_DEPTH} levels deep", "")
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            return
        self._spend(len(children), node)
        for child in children:
            self._spend_tree(child, depth + 1)

    def _mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        data: dict[Any, Any] = {}
        self.marks[id(data)] = (node.start_mark.line, node.start_mark.column)
        merges: list[Node] = []
        try:
            for key_node, value_node in node.value:
                if key_node.tag == _STR and key_node.__class__ is ScalarNode:
                    key = key_node.value
                elif key_node.tag == _MERGE:
                    merges.append(value_node)
                    continue
                else:
                    key = self.build(key_node, depth)
                data[key] = self.build(value_node, depth)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            ) from None
        if len(data) + len(merges) != len(node.value):
            self._find_duplicates(node.value)
        for source in self._merged(node, merges, depth):
            for key, value in source.items():
                data.setdefault(key, value)  # explicit keys win, then earlier merge sources
        return data

    def _merged(self, node: MappingNode, merges: list[Node], depth: int) -> list[dict[Any, Any]]:
        """The mappings named by ``<<:`` keys, in order."""
        sources: list[Any] = []
        for value_node in merges:
            built = self.build(value_node, depth)
            sources.extend(built if isinstance(value_node, SequenceNode) else [built])
        if not all(isinstance(source, dict) for source in sources):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "expected a mapping or a list of mappings for merging",
                merges[0].start_mark,
            )
        return sources

    def _find_duplicates(self, pairs: list[tuple[Node, Node]]) -> None:
        seen: dict[str, Any] = {}
        for key_node, _ in pairs:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                continue
            if key_node.value in seen:
                self.duplicates.append((key_node.value, seen[key_node.value], key_node.start_mark))
            else:
                seen[key_node.value] = key_node.start_mark


@dataclass(eq=False)
class Document:
    """One parsed spec file: its data, and what is needed to point back into it."""

    file: str  # the path as the user would type it
    rel: str  # path relative to the specs directory, with forward slashes
    base_dir: str  # absolute directory of the file, for relative ${file:...} references
    text: str
    digest: str = ""  # sha256 of the file's bytes: what the per-file spec cache is keyed by
    data: Any = None
    marks: dict[int, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[tuple[str, str], Any] = field(default_factory=dict)
    _root: Node | None = field(default=None, repr=False)  # composed again only to report errors

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (the per-file spec cache) without its text, parsed data or node tree: the
        cache gives the text back from the file it read (:meth:`adopt`)."""
        return {**self.__dict__, "text": "", "data": None, "marks": {}, "key_marks": {},
                "_root": None}

    def adopt(self, fresh: Document) -> None:
        """Take the names and text of ``fresh``, the same file as read now."""
        self.file, self.rel, self.base_dir = fresh.file, fresh.rel, fresh.base_dir
        self.text, self.digest, self._root = fresh.text, fresh.digest, None

    def mark_of(self, obj: object) -> tuple[int, int]:
        """1-based (line, column) where a loaded mapping starts."""
        mark = self.marks.get(id(obj))
        return (mark[0] + 1, mark[1] + 1) if mark is not None else (1, 1)

    def release(self) -> None:
        """Drop the parsed data once every entry was validated and placed: later errors find
        their place from the text, and 100,000 services' raw YAML need not outlive the pass."""
        self.data = None
        self.marks = {}

    def key_position(self, section: str, name: str) -> tuple[int, int]:
        """1-based (line, column) of a named entry's key, ``stfc-sp:`` under ``integrations:``."""
        mark = self.key_marks.get((section, name))
        return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)

    def position(self, path: YamlPath, at_key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path`` (or of its key when ``at_key``).

        Where the path leaves the file (a missing key), the deepest existing key is given.
        """
        if self._root is None:
            self._root = yaml.compose(self.text, Loader=_BaseLoader)
        node, key = _walk(self._root, path)
        mark = key if (at_key or node is None) and key is not None else getattr(node, "start_mark", None)
        return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _walk(node: Node | None, path: YamlPath) -> tuple[Node | None, Any]:
    """Follow ``path`` down the node tree: (node reached or None, mark of the last key passed)."""
    key_mark = None
    for part in path:
        if isinstance(node, MappingNode):
            pair = next((p for p in reversed(node.value) if _same_key(p[0], part)), None)  # last wins
            if pair is None:
                return None, key_mark or node.start_mark
            key_mark, node = pair[0].start_mark, pair[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node, key_mark = node.value[part], None
        else:
            return None, key_mark or getattr(node, "start_mark", None)
    return node, key_mark


def _same_key(key_node: Node, part: PathPart) -> bool:
    return isinstance(key_node, ScalarNode) and key_node.value == str(part)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a validated spec object came from: its document, path, and 1-based position."""

    doc: Document
    path: YamlPath
    line: int
    column: int

    def source(self) -> Source:
        return Source(self.doc.file, self.line, self.column)

    def __reduce__(self) -> tuple[type[Where], tuple[Document, YamlPath, int, int]]:
        # Pickled (the per-file spec cache) as a constructor call: a slotted dataclass's own
        # state-restoring path costs five times as much, once per validated entry.
        return Where, (self.doc, self.path, self.line, self.column)

    def __str__(self) -> str:
        return f"{self.doc.file}:{self.line}"


@dataclass
class Loaded:
    """The outcome of reading a specs directory: the documents read (each parsed later, by
    :func:`parse`, unless the spec cache holds its entries), problems, and the digest."""

    documents: list[Document]
    issues: list[SpecIssue]
    digest: str
    complete: bool  # False when a file could not be read: declarations may be missing


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it, else as given."""
    try:
        return str(Path(os.path.abspath(path)).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def find_spec_files(specs_dir: Path) -> list[tuple[str, Path]]:
    """(relative path, path) of every *.yaml/*.yml under ``specs_dir``; hidden entries skipped."""
    if specs_dir.is_file():
        return [(specs_dir.name, specs_dir)]
    found = []
    for root, dirs, files in os.walk(specs_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(SUFFIXES) and not name.startswith("."):
                path = Path(root) / name
                found.append((path.relative_to(specs_dir).as_posix(), path))
    return sorted(found)


def read_documents(specs_dir: Path, *, skip: Path | None = None) -> Loaded:
    """Read every spec file under ``specs_dir`` (not parsed yet), those under ``skip`` left
    out; never raises for a user mistake."""
    where = display_path(specs_dir)
    if not specs_dir.exists():
        issue = SpecIssue(where, 1, 1, f"specs directory {where} does not exist", _DIR_HINT)
        return Loaded([], [issue], "", False)
    files = find_spec_files(specs_dir)
    if skip is not None:
        files = [(rel, path) for rel, path in files if not path.resolve().is_relative_to(skip.resolve())]
    if not files:
        issue = SpecIssue(where, 1, 1, f"no spec files found in {where}", _DIR_HINT)
        return Loaded([], [issue], "", False)
    return _read_files(files)


_DIR_HINT = "point to a directory holding *.yaml spec files"


def _read_files(files: list[tuple[str, Path]]) -> Loaded:
    digest = hashlib.sha256()
    loaded = Loaded([], [], "", True)
    bounds, total = SpecBounds.current(), 0
    for rel, path in files:
        doc = _read(rel, path, digest, loaded.issues, bounds)
        total += len(doc.text) if doc is not None else 0
        if (problem := bounds.total_problem(total)) is not None:
            loaded.issues.append(SpecIssue(display_path(path), 1, 1, problem, ""))
            loaded.complete = False
            break  # the files left are not read at all
        if doc is not None:
            loaded.documents.append(doc)
        else:
            loaded.complete = False
    loaded.digest = digest.hexdigest()
    return loaded


def _read(rel: str, path: Path, digest: Any, issues: list[SpecIssue],
          bounds: SpecBounds) -> Document | None:
    """The file as a Document (text not parsed yet), its bytes added to the digest; a file over
    its bound is refused before it is read."""
    file = display_path(path)
    try:
        raw = read_spec_bytes(path, bounds)
    except OSError as exc:
        issues.append(SpecIssue(file, 1, 1, f"cannot read the file: {exc.strerror or exc}", ""))
        return None
    except TooLarge as exc:
        issues.append(SpecIssue(file, 1, 1, str(exc), ""))
        return None
    # Length-prefixed fields so that no two different spec sets hash alike.
    for part in (rel.encode(), raw):
        digest.update(f"{len(part)}:".encode())
        digest.update(part)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.append(SpecIssue(file, 1, 1, f"the file is not UTF-8 text ({exc.reason})", _UTF8))
        return None
    return Document(file, rel, os.path.abspath(path.parent), text, hashlib.sha256(raw).hexdigest())


_UTF8 = "save the file as UTF-8"


def read_spec_bytes(path: Path, bounds: SpecBounds) -> bytes:
    """A spec file's bytes, refused (TooLarge) over the file bound or when not a regular file."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # read_bounded reports it
    problem = bounds.file_problem(size)
    if problem is not None:
        raise TooLarge(problem)
    return read_bounded(path, bounds.file_bytes, "spec file")


def parse(doc: Document, issues: list[SpecIssue]) -> bool:
    """Parse ``doc.text`` into ``doc.data``; report syntax errors and duplicate keys."""
    loader = SpecLoader(doc.text)
    try:
        root = loader.get_single_node()
        doc.key_marks = _named_key_marks(root)
        doc.data = loader.build(root) if root is not None else None
    except Bounded as exc:
        issues.append(SpecIssue(doc.file, exc.mark.line + 1, exc.mark.column + 1, exc.message, exc.hint))
        return False
    except yaml.YAMLError as exc:
        issues.append(_syntax_issue(doc.file, exc))
        return False
    except RecursionError:
        issues.append(SpecIssue(doc.file, 1, 1, "the YAML nests too deeply, or an alias contains itself", ""))
        return False
    finally:
        loader.dispose()
    doc.marks = loader.marks
    issues.extend(_duplicate_issue(doc.file, *dup) for dup in loader.duplicates)
    return True


def _named_key_marks(root: Node | None) -> dict[tuple[str, str], Any]:
    """Marks of the top-level keys (under section ``""``) and of the keys one level under
    the named sections (``integrations:``, ``number_ranges:``, ``safety:``)."""
    marks: dict[tuple[str, str], Any] = {}
    if not isinstance(root, MappingNode):
        return marks
    for section_key, section in root.value:
        if isinstance(section_key, ScalarNode):
            marks.setdefault(("", section_key.value), section_key.start_mark)
        if section_key.value in NAMED_SECTIONS and isinstance(section, MappingNode):
            for key, _ in section.value:
                if isinstance(key, ScalarNode):
                    marks[(section_key.value, key.value)] = key.start_mark
    return marks


def _syntax_issue(file: str, exc: yaml.YAMLError) -> SpecIssue:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    hint = "check the indentation, and quote values that contain ': ' or start with { [ * & ! %"
    return SpecIssue(file, line, column, message, hint)


def _duplicate_issue(file: str, key: str, first: Any, second: Any) -> SpecIssue:
    message = (
        f"key '{key}' appears twice in the same mapping, at lines {first.line + 1} and {second.line + 1}"
    )
    hint = "keep one of them; YAML would silently use the last one"
    return SpecIssue(file, second.line + 1, second.column + 1, message, hint)
