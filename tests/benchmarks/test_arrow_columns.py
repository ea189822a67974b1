"""The store builds its Arrow columns without `pa.array` (whose first call imports pandas).

`arrow_array` must give exactly what `pa.array` gives for every column type the store
uses, and an eval's process must not import pandas because of it.
"""

from __future__ import annotations

import datetime
import subprocess
import sys

import pyarrow as pa
import pytest

from llmctl.store._schema import CACHE_COLUMNS, RESULT_COLUMNS, SCORE_COLUMNS
from llmctl.store._writer import arrow_array

NOW = datetime.datetime(2026, 11, 25, 6, 30, 1, 123456)
AWARE = datetime.datetime(2026, 11, 25, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=3)))
SAMPLES: dict[pa.DataType, list[object]] = {
    pa.string(): ["a", None, "héllo", "", "日本語", '{"k": [1]}'],
    pa.int32(): [0, None, 3, -5, 2**31 - 1],
    pa.int64(): [1, None, 2**40, -(2**40)],
    pa.float64(): [1.5, None, 2, 0, -0.25],
    pa.bool_(): [True, None, False, True, False, False, True, True, None, True],
    pa.timestamp("us"): [NOW, None, AWARE],
}


@pytest.mark.parametrize("typ", list(SAMPLES), ids=str)
@pytest.mark.parametrize("size", [0, 1, 9, 100])
def test_same_as_pa_array(typ: pa.DataType, size: int) -> None:
    values = (SAMPLES[typ] * 20)[:size]
    got = arrow_array(values, typ)
    got.validate(full=True)
    assert got.equals(pa.array(values, type=typ))


def test_all_nulls() -> None:
    for typ in SAMPLES:
        assert arrow_array([None, None, None], typ).equals(pa.array([None, None, None], type=typ))


def test_every_store_column_type_is_covered() -> None:
    types = {typ for columns in (RESULT_COLUMNS, SCORE_COLUMNS, CACHE_COLUMNS) for _, typ, _ in columns}
    assert types <= set(SAMPLES)


def test_writing_a_table_does_not_import_pandas() -> None:
    code = (
        "import sys\n"
        "from llmctl.store._schema import RESULT_COLUMNS\n"
        "from llmctl.store._writer import to_arrow\n"
        "to_arrow([{'run_id': 'r', 'result_key': 'k', 'prompt': 'p', 'case_id': 'c', 'model': 'm'}], RESULT_COLUMNS)\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
