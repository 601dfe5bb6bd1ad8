"""BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way"): the classic churn model.

Each customer buys at a Poisson rate lambda while alive and, after every purchase, drops out for
good with probability p; lambda ~ Gamma(r, alpha) and p ~ Beta(a, b) across customers. It needs
only three numbers per customer, in one time unit: `frequency` x (repeat purchase days: purchase
days after the first), `recency` t_x (from the first purchase day to the last) and `age` T (from
the first purchase day to the cut-off). Kindred fits it beside its churn model as the baseline a
learned model must beat on plain transactions.

The `lifetimes` package implements the same model but is unmaintained and fails to install with
current numpy and pandas; this is the paper's likelihood and closed forms, fitted with scipy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters (time in the unit of the data it was fitted on).

    Attributes:
        r: shape of the Gamma distribution of purchase rates.
        alpha: scale of the Gamma distribution of purchase rates.
        a: first shape of the Beta distribution of drop-out probabilities.
        b: second shape of the Beta distribution of drop-out probabilities.
    """

    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Probability that each customer is still alive (has not dropped out) at the cut-off.

        Args:
            frequency: repeat purchase days x.
            recency: time from first to last purchase t_x.
            age: time from first purchase to the cut-off T.

        Returns:
            P(alive | x, t_x, T); 1 for customers with no repeat purchase (they had no chance to drop out).
        """
        x, t_x, t = _arrays(frequency, recency, age)
        log_ratio = (self.r + x) * (np.log(self.alpha + t) - np.log(self.alpha + t_x))
        odds = np.where(
            x > 0, np.exp(np.log(self.a) - np.log(np.maximum(self.b + x - 1, 1e-12)) + log_ratio), 0.0
        )
        return 1.0 / (1.0 + odds)

    def p_no_purchase(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, horizon: float
    ) -> np.ndarray:
        """Probability of no purchase in the `horizon` after the cut-off: the churn label's probability.

        A customer alive at the cut-off buys nothing in the horizon with probability
        E[exp(-lambda h)] under the posterior Gamma(r + x, alpha + T) of their rate, because drop-out
        happens only right after a purchase; a customer who dropped out buys nothing.

        Args:
            frequency: repeat purchase days x.
            recency: time from first to last purchase t_x.
            age: time from first purchase to the cut-off T.
            horizon: the length of the window after the cut-off, in the same unit.

        Returns:
            P(no purchase in (T, T + horizon]).
        """
        x, _, t = _arrays(frequency, recency, age)
        quiet_if_alive = np.exp((self.r + x) * (np.log(self.alpha + t) - np.log(self.alpha + t + horizon)))
        return 1.0 - self.p_alive(frequency, recency, age) * (1.0 - quiet_if_alive)

    def expected_purchases(
        self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, horizon: float
    ) -> np.ndarray:
        """Expected purchases in the `horizon` after the cut-off (the paper's conditional expectation).

        Args:
            frequency: repeat purchase days x.
            recency: time from first to last purchase t_x.
            age: time from first purchase to the cut-off T.
            horizon: the window's length, in the same unit.

        Returns:
            E[X(T, T + horizon) | x, t_x, T].
        """
        from scipy.special import hyp2f1

        x, _, t = _arrays(frequency, recency, age)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + t + horizon)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - ((alpha + t) / (alpha + t + horizon)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        return first * second * self.p_alive(frequency, recency, age)


def _arrays(*values: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(v, dtype=float) for v in values)


class _Customers:
    """Every customer's x, t_x and T, with each column's distinct values.

    The likelihood's special functions (gammaln, betaln, digamma, log) take one column each, and
    the columns have few distinct values (purchase counts; days in weeks), so they are evaluated
    once per distinct value and gathered: a fit on a million customers costs a second, not ten.
    """

    def __init__(self, frequency: np.ndarray, recency: np.ndarray, age: np.ndarray) -> None:
        self.x, self.t_x, self.t = _arrays(frequency, recency, age)
        self.repeat = self.x > 0
        self._distinct = {
            name: np.unique(column, return_inverse=True)
            for name, column in (("x", self.x), ("t_x", self.t_x), ("t", self.t))
        }

    def per(self, column: str, function) -> np.ndarray:
        """`function` of the column, evaluated on its distinct values, one value per customer."""
        values, index = self._distinct[column]
        return function(values)[index.reshape(-1)]

    def alive_and_dropped(self, params: tuple[float, float, float, float]) -> tuple[np.ndarray, ...]:
        """Per customer: log(alpha + T), log(alpha + t_x) and the log-likelihood's two branches
        without their common part, "still alive" and "dropped out right after the last purchase"
        (only possible with at least one repeat purchase)."""
        r, alpha, a, b = params
        log_t = self.per("t", lambda v: np.log(alpha + v))
        log_t_x = self.per("t_x", lambda v: np.log(alpha + v))
        alive = self.per("x", lambda v: betaln(a, b + v)) - (r + self.x) * log_t
        dropped = np.where(
            self.repeat,
            self.per("x", lambda v: betaln(a + 1, np.maximum(b + v - 1, 1e-12))) - (r + self.x) * log_t_x,
            -np.inf,
        )
        return log_t, log_t_x, alive, dropped

    def log_likelihood(self, params: tuple[float, float, float, float]) -> np.ndarray:
        """Each customer's log-likelihood (equation 6 of the paper)."""
        return self._common(params) + np.logaddexp(*self.alive_and_dropped(params)[2:])

    def _common(self, params: tuple[float, float, float, float]) -> np.ndarray:
        r, alpha, a, b = params
        return self.per("x", lambda v: gammaln(r + v)) - gammaln(r) + r * np.log(alpha) - betaln(a, b)

    def value_and_gradient(self, params: tuple[float, float, float, float]) -> tuple[float, np.ndarray]:
        """The summed log-likelihood and its derivatives in (r, alpha, a, b)."""
        r, alpha, a, b = params
        x = self.x
        log_t, log_t_x, alive, dropped = self.alive_and_dropped(params)
        either = np.logaddexp(alive, dropped)
        value = float(np.sum(self._common(params) + either))
        # Each customer's likelihood is a mix of "still alive" and "dropped out after the last purchase".
        w_alive = np.exp(alive - either)
        w_dropped = 1.0 - w_alive
        d_r = (
            self.per("x", lambda v: digamma(r + v))
            - digamma(r)
            + np.log(alpha)
            - (w_alive * log_t + w_dropped * log_t_x)
        )
        d_alpha = r / alpha - (r + x) * (
            w_alive / self.per("t", lambda v: alpha + v) + w_dropped / self.per("t_x", lambda v: alpha + v)
        )
        d_a = (
            -(digamma(a) - digamma(a + b))
            + w_alive * self.per("x", lambda v: digamma(a) - digamma(a + b + v))
            + w_dropped * self.per("x", lambda v: digamma(a + 1) - digamma(a + b + v))
        )
        # b + x - 1 is only used where there is a repeat purchase.
        d_b = (
            -(digamma(b) - digamma(a + b))
            + w_alive * self.per("x", lambda v: digamma(b + v) - digamma(a + b + v))
            + w_dropped * self.per("x", lambda v: digamma(np.where(v > 0, b + v - 1, b)) - digamma(a + b + v))
        )
        return value, np.array([d_r.sum(), d_alpha.sum(), d_a.sum(), d_b.sum()])


def log_likelihood(
    params: tuple[float, float, float, float], frequency: np.ndarray, recency: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Each customer's log-likelihood under BG/NBD (equation 6 of the paper).

    Args:
        params: (r, alpha, a, b), all positive.
        frequency: repeat purchase days x.
        recency: time from first to last purchase t_x.
        age: time from first purchase to the cut-off T.

    Returns:
        One log-likelihood per customer.
    """
    return _Customers(frequency, recency, age).log_likelihood(params)


def _gradient(
    params: tuple[float, float, float, float], x: np.ndarray, t_x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """The summed log-likelihood's derivatives in (r, alpha, a, b)."""
    return _Customers(x, t_x, t).value_and_gradient(params)[1]


def fit(frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, *, penalty: float = 1e-4) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters.

    Args:
        frequency: repeat purchase days x per customer.
        recency: time from first to last purchase t_x per customer.
        age: time from first purchase to the cut-off T per customer (T >= t_x).
        penalty: a small L2 penalty on the log-parameters, which keeps the fit finite when a
            parameter is unidentified (for example nobody ever came back).

    Returns:
        The fitted model.

    Raises:
        ValueError: with no customers, or recency greater than age.

    Example:
        >>> model = fit(np.array([2, 0, 5]), np.array([30.0, 0.0, 40.0]), np.array([38.0, 20.0, 40.0]))
        >>> model.p_alive(np.array([2]), np.array([30.0]), np.array([38.0]))  # doctest: +SKIP
    """
    customers = _Customers(frequency, recency, age)
    x, t_x, t = customers.x, customers.t_x, customers.t
    if x.size == 0:
        raise ValueError("BG/NBD needs at least one customer to fit")
    if np.any(t_x > t + 1e-9) or np.any(x < 0):
        raise ValueError("BG/NBD needs 0 <= recency <= age and frequency >= 0 for every customer")
    scale = max(float(np.mean(t)), 1e-9)

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = tuple(np.exp(log_params))
        log_likelihood, gradient = customers.value_and_gradient(params)
        value = -log_likelihood / x.size + penalty * np.sum(log_params**2)
        # d/d(log p) = p d/dp.
        gradient = -gradient * np.exp(log_params) / x.size + 2 * penalty * log_params
        return float(value), gradient

    start = np.log([1.0, scale, 1.0, 1.0])
    # L-BFGS-B's few tiny BLAS calls per step cost milliseconds each when BLAS wakes its thread
    # pool on a busy machine; one thread makes a fit about twenty times faster.
    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 4)
    r, alpha, a, b = np.exp(result.x)
    log.debug("BG/NBD fit on %d customers: r=%.3f alpha=%.3f a=%.3f b=%.3f", x.size, r, alpha, a, b)
    return BgNbd(float(r), float(alpha), float(a), float(b))
