"""Power-law fits recover known exponents from synthetic points."""

from __future__ import annotations

import numpy as np
import pytest

from slmkit.common.errors import ConfigError
from slmkit.scale.fit import fit_loss_nd, fit_power_law


@pytest.mark.parametrize(("a", "alpha", "c"), [(12.0, 0.3, 1.8), (40.0, 0.076, 0.0), (300.0, 0.5, 2.5)])
def test_power_law_recovers_known_parameters(a, alpha, c):
    n = np.geomspace(1e4, 1e8, 6)
    fit = fit_power_law(n, a * n**-alpha + c)
    assert fit.alpha == pytest.approx(alpha, rel=1e-3)
    assert fit.a == pytest.approx(a, rel=1e-2)
    assert fit.c == pytest.approx(c, abs=1e-3)
    assert fit.rmse < 1e-5
    assert fit.predict(1e9) == pytest.approx(a * 1e9**-alpha + c, rel=1e-4)


def test_power_law_with_noise_stays_close():
    rng = np.random.default_rng(0)
    n = np.geomspace(1e5, 1e8, 8)
    losses = 20 * n**-0.25 + 1.5
    fit = fit_power_law(n, losses * (1 + 0.002 * rng.standard_normal(n.size)))
    assert fit.alpha == pytest.approx(0.25, abs=0.05)
    assert fit.c == pytest.approx(1.5, abs=0.15)


def test_loss_surface_recovers_known_exponents():
    E, A, alpha, B, beta = 1.7, 400.0, 0.34, 410.0, 0.28
    n, d = np.meshgrid(np.geomspace(1e5, 1e8, 5), np.geomspace(1e6, 1e10, 5))
    losses = E + A / n**alpha + B / d**beta
    fit = fit_loss_nd(n.ravel(), d.ravel(), losses.ravel())
    assert fit.alpha == pytest.approx(alpha, rel=0.02)
    assert fit.beta == pytest.approx(beta, rel=0.02)
    irreducible = fit.E
    assert irreducible == pytest.approx(E, rel=0.02)
    assert fit.rmse < 1e-3


def test_too_few_points_is_a_config_error():
    with pytest.raises(ConfigError):
        fit_power_law([1e5, 1e6], [3.0, 2.5])
    with pytest.raises(ConfigError):
        fit_loss_nd([1e5] * 3, [1e6] * 3, [3.0] * 3)
