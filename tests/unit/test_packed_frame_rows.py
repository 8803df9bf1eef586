"""Which row of a frame holds a report: rows_of on dense and sparse report ids (a block of ids per month)."""
import tracemalloc

import numpy as np

from service.statistics.packed_frame import rows_of


def _rows_of_by_dense_array(report_ids, row_report_ids, first_row=0):
    """The former implementation, an array indexed by report id: the reference for ids it could take."""
    row_of = np.full(int(row_report_ids.max()) + 1, -1, dtype=np.int32)
    row_of[row_report_ids] = np.arange(first_row, first_row + len(row_report_ids), dtype=np.int32)
    return row_of[report_ids]


def test_rows_of_answers_as_the_dense_array_did():
    rng = np.random.default_rng(7)
    for high in (50, 5_000_000):  # dense ids; ids of several monthly blocks of 2^22
        row_report_ids = rng.choice(high, size=40, replace=False).astype(np.int32)
        report_ids = np.concatenate([rng.choice(row_report_ids, size=60), rng.integers(0, high, 20)]).astype(np.int32)
        for first_row in (0, 17):
            expected = _rows_of_by_dense_array(report_ids, row_report_ids, first_row)
            got = rows_of(report_ids, row_report_ids, first_row)
            assert got.dtype == np.int32
            assert got.tolist() == expected.tolist()


def test_rows_of_gives_minus_one_for_ids_absent_and_copes_with_no_rows():
    rows = np.array([12_582_913, 4_194_305, 8_388_609], dtype=np.int32)
    assert rows_of(np.array([8_388_609, 7, 12_582_913, 2_000_000_000], dtype=np.int32), rows, 3).tolist() == [
        5, -1, 3, -1]
    assert rows_of(np.array([1, 2], dtype=np.int32), np.zeros(0, dtype=np.int32)).tolist() == [-1, -1]


def test_rows_of_does_not_allocate_by_the_largest_report_id():
    rows = np.array([1, 60_000_000], dtype=np.int32)  # a dense array would take 240 MB
    tracemalloc.start()
    try:
        assert rows_of(np.array([60_000_000], dtype=np.int32), rows).tolist() == [1]
        assert tracemalloc.get_traced_memory()[1] < 1_000_000
    finally:
        tracemalloc.stop()
