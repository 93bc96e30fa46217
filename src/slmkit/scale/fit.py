"""Power-law fits of loss against model size and data: L(N) = a*N^-alpha + c and L(N, D) = E + A/N^alpha + B/D^beta.

L(N) (Kaplan et al. 2020 form with an irreducible term): for a fixed c, log(L - c) = log a - alpha*log N is a straight
line, so c is searched on a grid then refined by golden-section, each candidate solved by least squares in log space.
L(N, D) (Hoffmann et al. 2022, "Chinchilla" form): nonlinear least squares on log L with scipy, from a small grid of
starting exponents (the fit has several local minima).

Example:
    fit = fit_power_law(n_params, losses); fit.alpha, fit.predict(1e7)
    fit2 = fit_loss_nd(n_params, tokens, losses); fit2.predict(1e7, 1e9)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from slmkit.common.errors import ConfigError


@dataclass(frozen=True)
class PowerLaw:
    """L(N) = a * N^-alpha + c."""

    a: float
    alpha: float
    c: float
    rmse: float  # of the fit on its points

    def predict(self, n) -> np.ndarray:
        return self.a * np.asarray(n, dtype=float) ** -self.alpha + self.c

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LossSurface:
    """L(N, D) = E + A / N^alpha + B / D^beta."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float
    rmse: float

    def predict(self, n, d) -> np.ndarray:
        n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    def to_dict(self) -> dict:
        return asdict(self)


def _line_fit(log_n: np.ndarray, losses: np.ndarray, c: float) -> tuple[float, float, float]:
    """(a, alpha, squared error in loss space) for a fixed irreducible loss c < min(losses)."""
    slope, intercept = np.polyfit(log_n, np.log(losses - c), 1)
    a, alpha = math.exp(intercept), -slope
    error = float(np.sum((a * np.exp(-alpha * log_n) + c - losses) ** 2))
    return a, alpha, error


def fit_power_law(n_params, losses) -> PowerLaw:
    """Fit L(N) = a*N^-alpha + c (c >= 0) to at least 3 points.

    Example: `fit_power_law([1e5, 1e6, 1e7], [4.0, 3.0, 2.5])`
    """
    n, losses = np.asarray(n_params, dtype=float), np.asarray(losses, dtype=float)
    if n.shape != losses.shape or n.size < 3:
        raise ConfigError("scale points", f"{n.size} (N, loss) pairs", "at least 3 to fit a*N^-alpha + c")
    if np.any(n <= 0) or np.any(losses <= 0):
        raise ConfigError("scale points", "non-positive N or loss", "positive values")
    log_n = np.log(n)
    top = float(losses.min()) * (1 - 1e-9)
    error = lambda c: _line_fit(log_n, losses, c)[2]
    grid = np.linspace(0.0, top, 400, endpoint=False)
    best = int(np.argmin([error(c) for c in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[best + 1] if best + 1 < grid.size else top
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):  # golden-section refinement of c around the best grid cell
        x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if error(x1) < error(x2):
            hi = x2
        else:
            lo = x1
    c = (lo + hi) / 2
    a, alpha, err = _line_fit(log_n, losses, c)
    return PowerLaw(a=a, alpha=alpha, c=c, rmse=math.sqrt(err / n.size))


def fit_loss_nd(n_params, tokens, losses) -> LossSurface:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta to at least 5 points (several sizes, several token counts).

    Example: `fit_loss_nd([1e5, 1e5, 1e6, 1e6, 1e7], [1e6, 1e7, 1e6, 1e7, 1e7], [4.1, 3.6, 3.7, 3.1, 2.8])`
    """
    from scipy.optimize import least_squares

    n, d, losses = (np.asarray(x, dtype=float) for x in (n_params, tokens, losses))
    if not n.shape == d.shape == losses.shape or n.size < 5:
        raise ConfigError("scale points", f"{n.size} (N, D, loss) triples", "at least 5 to fit L(N, D)")
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(losses)

    def residuals(p):  # p = log E, log A, alpha, log B, beta; residuals of log L
        pred = np.exp(p[0]) + np.exp(p[1] - p[2] * log_n) + np.exp(p[3] - p[4] * log_d)
        return np.log(pred) - log_l

    best = None
    for alpha0 in (0.2, 0.5, 1.0):
        for beta0 in (0.2, 0.5, 1.0):
            for e0 in (0.3, 0.7):
                start = [math.log(e0 * losses.min()), math.log(losses.mean()) + alpha0 * log_n.mean(), alpha0,
                         math.log(losses.mean()) + beta0 * log_d.mean(), beta0]
                result = least_squares(residuals, start, bounds=([-20, -20, 0, -20, 0], [5, 60, 3, 60, 3]))
                if best is None or result.cost < best.cost:
                    best = result
    p = best.x
    surface = LossSurface(E=math.exp(p[0]), A=math.exp(p[1]), alpha=float(p[2]), B=math.exp(p[3]), beta=float(p[4]),
                          rmse=0.0)
    rmse = float(np.sqrt(np.mean((surface.predict(n, d) - losses) ** 2)))
    return LossSurface(**{**surface.to_dict(), "rmse": rmse})
