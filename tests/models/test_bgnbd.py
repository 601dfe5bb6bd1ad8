"""BG/NBD: the likelihood's gradient, parameter recovery on simulated customers, and its closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad

from models import bgnbd

# Fader, Hardie and Lee's estimates on the CDNOW data (weeks).
CDNOW = (0.243, 4.414, 0.793, 2.426)


def simulate(
    n: int, params: tuple, age: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customers drawn from BG/NBD itself: (frequency, recency, age, purchases in the next `age` weeks)."""
    r, alpha, a, b = params
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    frequency, recency, future = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / rate[i])
            if t > 2 * age:
                break
            if t <= age:
                frequency[i] += 1
                recency[i] = t
            else:
                future[i] += 1
            alive = rng.random() >= dropout[i]
    return frequency, recency, np.full(n, age), future


@pytest.fixture(scope="module")
def customers():
    return simulate(4000, CDNOW, 39.0, seed=3)


def test_the_gradient_matches_the_likelihood():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, 60).astype(float)
    t = rng.uniform(5, 40, 60)
    t_x = np.where(x > 0, t * rng.uniform(0, 1, 60), 0.0)
    for params in ([0.5, 3.0, 0.8, 2.0], [1.5, 10.0, 0.3, 5.0]):
        error = check_grad(
            lambda p: bgnbd.log_likelihood(tuple(p), x, t_x, t).sum(),
            lambda p: bgnbd._gradient(tuple(p), x, t_x, t),
            np.array(params),
        )
        assert error < 1e-4


def test_the_likelihood_is_each_customers_own_with_repeated_values():
    # The special functions are evaluated once per distinct value and gathered: each customer must
    # still get equation 6 of their own (x, t_x, T), written out here term by term.
    from scipy.special import betaln, gammaln

    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, 500).astype(float)
    t = rng.integers(1, 30, 500) / 7
    t_x = np.where(x > 0, np.floor(t * 7 * rng.uniform(0, 1, 500)) / 7, 0.0)
    r, alpha, a, b = 0.7, 4.0, 0.9, 2.5
    expected = []
    for xi, txi, ti in zip(x, t_x, t, strict=True):
        alive = betaln(a, b + xi) - (r + xi) * np.log(alpha + ti)
        terms = [alive]
        if xi > 0:
            terms.append(betaln(a + 1, b + xi - 1) - (r + xi) * np.log(alpha + txi))
        common = gammaln(r + xi) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
        expected.append(common + np.logaddexp.reduce(terms))
    np.testing.assert_allclose(bgnbd.log_likelihood((r, alpha, a, b), x, t_x, t), expected, rtol=1e-12)


def test_fit_recovers_the_simulated_parameters(customers):
    frequency, recency, age, _ = customers
    model = bgnbd.fit(frequency, recency, age)
    assert model.r == pytest.approx(CDNOW[0], rel=0.25)
    assert model.alpha == pytest.approx(CDNOW[1], rel=0.35)
    assert model.a == pytest.approx(CDNOW[2], rel=0.35)
    assert model.b == pytest.approx(CDNOW[3], rel=0.5)


def test_the_closed_forms_agree_with_what_happened_next(customers):
    frequency, recency, age, future = customers
    model = bgnbd.BgNbd(*CDNOW)
    quiet = model.p_no_purchase(frequency, recency, age, 39.0)
    expected = model.expected_purchases(frequency, recency, age, 39.0)
    # Averaged over customers, the predictions match the simulated next period.
    assert quiet.mean() == pytest.approx((future == 0).mean(), abs=0.02)
    assert expected.mean() == pytest.approx(future.mean(), rel=0.1)
    # And they rank: customers predicted quiet are quiet more often.
    order = np.argsort(quiet)
    assert (future[order[-1000:]] == 0).mean() > (future[order[:1000]] == 0).mean() + 0.3


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_silence():
    model = bgnbd.BgNbd(*CDNOW)
    assert model.p_alive(np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] == 1.0
    recent, silent = model.p_alive(np.array([5.0, 5.0]), np.array([29.0, 5.0]), np.array([30.0, 30.0]))
    assert 0 < silent < recent < 1


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="at least one customer"):
        bgnbd.fit(np.array([]), np.array([]), np.array([]))
    with pytest.raises(ValueError, match="recency <= age"):
        bgnbd.fit(np.array([1.0]), np.array([10.0]), np.array([5.0]))
