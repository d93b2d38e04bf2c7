"""The small-number rule: no hidden count can be worked out from what a table shows.

The property test checks `engage.disclosure.protect` against a brute-force search that
knows nothing of how the rule decides: it lists every table of counts (whole numbers,
none negative) that agrees with every shown cell and total, and asks whether any hidden
count takes one value in all of them.
"""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engage.disclosure import HIDDEN, OPEN, SHOWN, protect, protect_counts

LIMIT = 3  # small numbers keep the brute force quick; the rule does not depend on the threshold
MAX_COUNT = 8


def _compositions(total: int, parts: int, cap: int):
    if parts == 0:
        if total == 0:
            yield ()
        return
    for first in range(min(total, cap) + 1):
        for rest in _compositions(total - first, parts - 1, cap):
            yield (first, *rest)


def derivable_hidden_counts(published, n_rows: int, n_cols: int, unpublished: tuple = ()) -> set:
    """Hidden counts (cells and totals) that have the same value in every table agreeing with what is shown.

    `unpublished` names totals that are never shown (a single row's column totals are its cells).
    """
    cells, rows, cols, total = (published.cells, published.row_totals, published.column_totals, published.total)
    # No count in the generated tables passes MAX_COUNT: searching up to one more than that finds any move
    # of one up or down (a tighter search can only report more counts as pinned, never fewer).
    cap = min(total, MAX_COUNT + 1) if total is not None else MAX_COUNT + 1
    seen: dict[tuple, set] = {}
    hidden_keys = ([("c", i, j) for i in range(n_rows) for j in range(n_cols) if cells[i][j] is None]
                   + [("r", i) for i in range(n_rows) if rows[i] is None]
                   + [("k", j) for j in range(n_cols) if cols[j] is None] + ([("t",)] if total is None else []))
    if not hidden_keys:
        return set()

    def row_options(i):
        free = [j for j in range(n_cols) if cells[i][j] is None]
        fixed = sum(n for n in cells[i] if n is not None)
        if rows[i] is not None:
            for values in _compositions(rows[i] - fixed, len(free), min(cap, rows[i])):
                yield dict(zip(free, values, strict=True))
        else:
            for values in itertools.product(range(cap + 1), repeat=len(free)):
                yield dict(zip(free, values, strict=True))

    def walk(i, table, col_sums):
        if i == n_rows:
            if any(cols[j] is not None and col_sums[j] != cols[j] for j in range(n_cols)):
                return False
            grand = sum(col_sums)
            if total is not None and grand != total:
                return False
            record = {("t",): grand}
            for r, row in enumerate(table):
                record[("r", r)] = sum(row)
                for j, n in enumerate(row):
                    record[("c", r, j)] = n
            for j in range(n_cols):
                record[("k", j)] = col_sums[j]
            for key in hidden_keys:
                seen.setdefault(key, set()).add(record[key])
            return all(len(seen.get(key, ())) > 1 for key in hidden_keys)  # stop once nothing is pinned
        for choice in row_options(i):
            row = [cells[i][j] if cells[i][j] is not None else choice[j] for j in range(n_cols)]
            sums = [col_sums[j] + row[j] for j in range(n_cols)]
            if any(cols[j] is not None and sums[j] > cols[j] for j in range(n_cols)):
                continue
            if walk(i + 1, [*table, row], sums):
                return True
        return False

    walk(0, [], [0] * n_cols)
    return {key for key in hidden_keys if len(seen.get(key, ())) == 1 and key[0] not in unpublished}


# Up to 2 x 3 or 3 x 2 cells (and 1 x 4, 4 x 1): enough for every shape of problem, small enough to search.
shapes = st.sampled_from([(1, 2), (1, 4), (2, 1), (4, 1), (2, 2), (2, 3), (3, 2)])
tables = shapes.flatmap(lambda rc: st.lists(st.lists(st.integers(0, MAX_COUNT), min_size=rc[1], max_size=rc[1]),
                                            min_size=rc[0], max_size=rc[0]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_no_hidden_count_can_be_worked_out_from_a_table_with_its_totals(table):
    n_rows, n_cols = len(table), len(table[0])
    published = protect(table, limit=LIMIT)
    for i, row in enumerate(table):
        for j, n in enumerate(row):
            shown = published.cells[i][j]
            assert shown is None or (shown == n and n >= LIMIT)  # small counts, zero included, never shown
    assert derivable_hidden_counts(published, n_rows, n_cols) == set()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, MAX_COUNT), min_size=1, max_size=6))
def test_one_row_with_its_published_total_gives_nothing_away(counts):
    shown = protect_counts(counts, limit=LIMIT)
    # Nothing under the threshold shows, but for zeros when nobody answered at all (the total says so).
    assert all(s is None or (s == n and (n >= LIMIT or sum(counts) == 0)) for s, n in zip(shown, counts, strict=True))
    published = protect([counts], limit=LIMIT, row_totals=SHOWN, column_totals=HIDDEN, total=SHOWN,
                        small_totals=False)
    assert published.cells[0] == shown
    assume(not published.withheld)  # one count with its total shown beside it: nothing can hide it
    assert derivable_hidden_counts(published, 1, len(counts), unpublished=("k",)) == set()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_column_totals_published_elsewhere_stay_and_still_give_nothing_away(table):
    """A breakdown repeats a question's counts as its column totals: they stay shown, cells are protected."""
    published = protect(table, limit=LIMIT, column_totals=SHOWN, total=SHOWN)
    assert published.column_totals == [sum(col) for col in zip(*table, strict=True)]
    if published.withheld:
        # Nothing can protect it around the totals shown elsewhere: every other count is hidden.
        empty = {j for j, col in enumerate(zip(*table, strict=True)) if sum(col) == 0}
        assert all(n is None or (n == 0 and j in empty) for row in published.cells for j, n in enumerate(row))
        assert all(n is None or n == 0 for n in published.row_totals)
        return
    assert derivable_hidden_counts(published, len(table), len(table[0])) == set()


def test_the_zero_and_total_that_gave_a_hidden_cell_away_are_not_enough_any_more():
    # Ethnicity answers: white 40, mixed 0, asian 3, black 0, other 0; 43 answered. Today "asian" = 43 - 40.
    shown = protect_counts([40, 0, 3, 0, 0], limit=10)
    assert shown == [40, None, None, None, None]
    shown = protect_counts([40, 12, 3], limit=10)
    assert shown[2] is None and shown[1] is None and shown[0] == 40


def test_a_bridge_between_two_blocks_is_not_left_pinned():
    """Two hidden cells per row and column is not enough when one hidden cell joins two separate blocks."""
    table = [[1, 1, 0], [1, 1, 1], [0, 4, 4]]
    published = protect(table, limit=2, row_totals=SHOWN, column_totals=SHOWN, total=SHOWN)
    assert derivable_hidden_counts(published, 3, 3) == set()


def test_a_table_too_small_to_protect_is_withheld_but_totals_shown_elsewhere_stay():
    published = protect([[4], [3]], limit=10, column_totals=SHOWN, total=SHOWN)
    assert published.cells == [[None], [None]] and published.column_totals == [7]
    assert published.row_totals == [None, None]


@pytest.mark.parametrize("mode", [OPEN, SHOWN, HIDDEN])
def test_modes_are_checked(mode):
    assert protect([[20, 30]], limit=10, row_totals=[mode], column_totals=SHOWN).cells == [[20, 30]]
    with pytest.raises(ValueError):
        protect([[20, 30]], limit=10, row_totals=[mode, mode])
