"""Cut-offs: label windows of training data end before the holdout, and the holdout's by as_of."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models.timeline import holdout_cutoff, months_before, training_cutoffs

AS_OF = datetime(2024, 7, 1)


@pytest.mark.parametrize("horizon", [30, 60, 90])
def test_no_label_window_reaches_past_as_of(horizon):
    holdout = holdout_cutoff(AS_OF, horizon)
    assert holdout + timedelta(days=horizon) == AS_OF
    cutoffs = training_cutoffs(AS_OF, horizon, history_start=datetime(2020, 1, 1))
    assert len(cutoffs) == 12
    for cutoff in cutoffs:
        assert cutoff + timedelta(days=horizon) <= holdout, "a training label window overlaps the holdout"
    assert cutoffs == sorted(cutoffs, reverse=True)


def test_cutoffs_are_monthly_and_stop_at_the_start_of_history():
    cutoffs = training_cutoffs(AS_OF, 30, history_start=datetime(2024, 1, 15))
    assert cutoffs == [datetime(2024, 5, 2), datetime(2024, 4, 2), datetime(2024, 3, 2), datetime(2024, 2, 2)]
    assert training_cutoffs(AS_OF, 30, history_start=None) == []
    assert training_cutoffs(AS_OF, 200, history_start=datetime(2024, 1, 1)) == []


def test_months_before_clamps_to_the_end_of_the_month():
    assert months_before(datetime(2024, 3, 31), 1) == datetime(2024, 2, 29)
    assert months_before(datetime(2024, 1, 15, 6), 13) == datetime(2022, 12, 15, 6)
