"""The one small-number rule: which counts about special-category data may be shown.

Every page, export and API response that shows a count involving special-category
data (ethnicity, disability, health, religion, sexual orientation: a question marked
`special_category: true`, or a breakdown by such a field) passes its table through
`protect()`. Nothing else decides what to hide.

The rule, for a table of counts with its row, column and grand totals:

1. Primary: every count below the threshold (default 10, `OUTREACH_SUPPRESS_BELOW`)
   is hidden, zero included: a shown 0 next to a hidden cell narrows what the hidden
   cell can be, so zeros are treated like any other small count.
2. Secondary: while any hidden count could still be worked out from what is shown
   (the other cells, the totals, and that no count is negative), hide the smallest
   shown count in the same row or column (cells before totals), else the smallest
   shown count anywhere. A total published elsewhere (say a question's counts, which
   a breakdown's column totals repeat) is never hidden here; when a table cannot be
   protected around such totals it is withheld whole.

"Could be worked out" is decided exactly, not by the usual rule of thumb (at least
two hidden cells per row and column, which a hidden cell bridging two blocks
defeats). A table with its totals is a circulation on a small graph (grand total ->
row -> cell -> column -> grand total); a hidden count is fixed by what is shown
exactly when no cycle of hidden counts can move it by one while keeping every
count at zero or more (the constraint matrix is totally unimodular, so looking at
one-step cycles is enough). Written by hand because statistical-disclosure
packages (sdcMicro, tau-Argus) are R and Java programs, not Python libraries.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 10
OPEN, SHOWN, HIDDEN = "open", "shown", "hidden"
_threshold: int | None = None


def threshold() -> int:
    """The smallest count that may be shown: `configure`d, else OUTREACH_SUPPRESS_BELOW, else 10."""
    if _threshold is not None:
        return _threshold
    raw = os.environ.get("OUTREACH_SUPPRESS_BELOW")
    return _parse(raw) if raw else DEFAULT_THRESHOLD


def _parse(raw) -> int:
    value = int(raw)
    if value < 2:
        raise ValueError("the small-number threshold (OUTREACH_SUPPRESS_BELOW) must be 2 or more")
    return value


def configure(settings) -> None:
    """Take the threshold from the service's settings (`suppress_below`), else the environment."""
    global _threshold
    raw = (getattr(settings, "extra", None) or {}).get("suppress_below") or os.environ.get("OUTREACH_SUPPRESS_BELOW")
    _threshold = _parse(raw) if raw else None


@dataclass
class Protected:
    """A table as it may be shown: None where a count is hidden."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None
    # True when the table could not be protected and nothing of it (but totals shown elsewhere) is shown.
    withheld: bool = False
    hidden: set[tuple[int, int]] = field(default_factory=set)

    @property
    def any_hidden(self) -> bool:
        return bool(self.hidden) or any(v is None for v in self.row_totals + self.column_totals) or self.total is None


def _modes(spec, n: int) -> list[str]:
    if isinstance(spec, str):
        return [spec] * n
    modes = list(spec)
    if len(modes) != n or any(m not in (OPEN, SHOWN, HIDDEN) for m in modes):
        raise ValueError("give one of open, shown, hidden per total")
    return modes


class _Graph:
    """The table as edges: ("c", i, j) cells, ("r", i) and ("k", j) totals, ("t",) the grand total."""

    def __init__(self, cells: list[list[int]], row_totals: list[int], column_totals: list[int], total: int):
        self.value: dict[tuple, int] = {}
        self.ends: dict[tuple, tuple[str, str]] = {}
        for i, row in enumerate(cells):
            for j, n in enumerate(row):
                self._add(("c", i, j), f"R{i}", f"C{j}", n)
        for i, n in enumerate(row_totals):
            self._add(("r", i), "T", f"R{i}", n)
        for j, n in enumerate(column_totals):
            self._add(("k", j), f"C{j}", "U", n)
        self._add(("t",), "U", "T", total)

    def _add(self, key, tail: str, head: str, n: int) -> None:
        self.value[key] = n
        self.ends[key] = (tail, head)

    def movable(self, key, hidden: set) -> bool:
        """Can a cycle of hidden counts change this one by one, keeping every count >= 0?"""
        tail, head = self.ends[key]
        # Up by one: a way back from head to tail through the other hidden counts.
        if self._path(head, tail, key, hidden):
            return True
        # Down by one (only from 1 or more): a way on from tail to head.
        return self.value[key] >= 1 and self._path(tail, head, key, hidden)

    def _path(self, start: str, goal: str, skip, hidden: set) -> bool:
        arcs: dict[str, list[str]] = {}
        for key in hidden:
            if key == skip:
                continue
            tail, head = self.ends[key]
            arcs.setdefault(tail, []).append(head)  # raising a hidden count is always possible
            if self.value[key] >= 1:
                arcs.setdefault(head, []).append(tail)  # lowering it only from 1 or more
        seen, queue = {start}, deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                return True
            for nxt in arcs.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return False

    def derivable(self, hidden: set, unpublished: set) -> list:
        """Hidden counts that what is shown pins down (totals never published do not count, but do connect)."""
        return [key for key in sorted(hidden - unpublished, key=_order) if not self.movable(key, hidden)]


def _order(key) -> tuple:
    return ({"c": 0, "r": 1, "k": 1, "t": 2}[key[0]], key)


def protect(cells: Sequence[Sequence[int]], *, limit: int | None = None, row_totals=OPEN, column_totals=OPEN,
            total=OPEN, small_totals: bool = True) -> Protected:
    """Decide which counts of a table may be shown (see the module's rule); return the table to show.

    `row_totals`, `column_totals` and `total` say how each total is published: "open"
    (shown unless the rule hides it), "shown" (published elsewhere, so it stays and is
    assumed known) or "hidden" (not published: nothing can be worked out from it).
    One string applies to every total of that kind, or give one per row or column.
    `small_totals=False` leaves totals under the threshold alone (a question's
    "answered" is not a count of a special-category group; its cells are).
    """
    limit = threshold() if limit is None else limit
    grid = [[int(n) for n in row] for row in cells]
    n_rows, n_cols = len(grid), len(grid[0]) if grid else 0
    if any(len(row) != n_cols for row in grid) or any(n < 0 for row in grid for n in row):
        raise ValueError("a table of counts needs rows of equal length and no negative counts")
    sums_r = [sum(row) for row in grid]
    sums_c = [sum(grid[i][j] for i in range(n_rows)) for j in range(n_cols)]
    grand = sum(sums_r)
    graph = _Graph(grid, sums_r, sums_c, grand)
    modes = {("r", i): m for i, m in enumerate(_modes(row_totals, n_rows))}
    modes.update({("k", j): m for j, m in enumerate(_modes(column_totals, n_cols))})
    modes[("t",)] = _modes(total, 1)[0]
    unpublished = {key for key, mode in modes.items() if mode == HIDDEN}
    hidden = set(unpublished)
    # A zero in a row or column whose total of 0 is published anyway is no secret: it stays shown.
    known_zero = {("c", i, j) for i in range(n_rows) for j in range(n_cols)
                  if (modes[("r", i)] == SHOWN and sums_r[i] == 0) or (modes[("k", j)] == SHOWN and sums_c[j] == 0)}
    hidden |= {("c", i, j) for i in range(n_rows) for j in range(n_cols) if grid[i][j] < limit} - known_zero
    if small_totals:
        hidden |= {key for key, mode in modes.items() if mode == OPEN and graph.value[key] < limit}
    withheld = False
    while True:
        stuck = graph.derivable(hidden, unpublished)
        if not stuck:
            break
        extra = _next_to_hide(stuck[0], graph, hidden, modes)
        if extra is None:
            withheld = True
            hidden |= {key for key in graph.value if modes.get(key, OPEN) != SHOWN} - known_zero
            break
        hidden.add(extra)

    def shown(key):
        return None if key in hidden else graph.value[key]

    return Protected(
        cells=[[shown(("c", i, j)) for j in range(n_cols)] for i in range(n_rows)],
        row_totals=[shown(("r", i)) for i in range(n_rows)],
        column_totals=[shown(("k", j)) for j in range(n_cols)],
        total=shown(("t",)), withheld=withheld,
        hidden={(key[1], key[2]) for key in hidden if key[0] == "c"},
    )


def _next_to_hide(stuck, graph: _Graph, hidden: set, modes: dict):
    """The count to hide next: the smallest shown one sharing a row or column with a count that can be worked out."""
    ends = set(graph.ends[stuck])
    candidates = [key for key in graph.value if key not in hidden and modes.get(key, OPEN) != SHOWN
                  and not (key[0] == "c" and graph.value[key] == 0 and _in_empty_shown_line(key, graph, modes))]
    if not candidates:
        return None
    near = [key for key in candidates if ends & set(graph.ends[key])]
    pool = near or candidates
    return min(pool, key=lambda key: (key[0] != "c", graph.value[key], _order(key)))


def _in_empty_shown_line(key, graph: _Graph, modes: dict) -> bool:
    _c, i, j = key
    return ((modes[("r", i)] == SHOWN and graph.value[("r", i)] == 0)
            or (modes[("k", j)] == SHOWN and graph.value[("k", j)] == 0))


def protect_counts(counts: Sequence[int], *, answered: int | None = None, limit: int | None = None,
                   additive: bool = True) -> list[int | None]:
    """Protect one row of counts (one question's answers, one field's groups); None where hidden.

    `answered` is the row's total as published beside it (always assumed known);
    `additive=False` for counts that need not add up to it (a multiple-choice question).
    """
    counts = list(counts)
    if not counts:
        return []
    if not additive:
        limit = threshold() if limit is None else limit
        return [None if n < limit else n for n in counts]
    result = protect([counts], limit=limit, row_totals=SHOWN, column_totals=HIDDEN, total=SHOWN,
                     small_totals=False)
    return result.cells[0]
