"""The paired t-test over seeds that decides whether a method's difference from CAM is
resolved (issue 28): per seed d_s = row_s - reference_s, t = mean(d) / (sd(d) / sqrt(n)),
n - 1 degrees of freedom, two-sided p; resolved when p < 0.05.

Student's t distribution for an integer number of degrees of freedom has a closed form
(Abramowitz & Stegun 26.7.3-4), so no scipy: with theta = atan(t / sqrt(v)),
    v odd:  P(|T| <= t) = (2/pi) (theta + sin(theta) sum_k a_k cos(theta)^(2k+1)),
            a_0 = 1, a_k = a_(k-1) * 2k / (2k + 1), k < (v - 1) / 2   (v = 1: 2 theta / pi);
    v even: P(|T| <= t) = sin(theta) sum_k b_k cos(theta)^(2k),
            b_0 = 1, b_k = b_(k-1) * (2k - 1) / (2k), k < v / 2.
With 3 seeds (2 degrees of freedom) the 95% critical |t| is 4.303: a gap is resolved only when
it is large against its spread over seeds. Pure functions.
"""

from __future__ import annotations

import math

ALPHA = 0.05


def t_cdf_two_sided(t: float, dof: int) -> float:
    """P(|T| <= |t|) for Student's t with `dof` (an integer >= 1) degrees of freedom."""
    if dof < 1 or int(dof) != dof:
        raise ValueError(f"dof={dof!r}: an integer >= 1")
    if math.isinf(t):
        return 1.0
    theta = math.atan(abs(t) / math.sqrt(dof))
    s, c = math.sin(theta), math.cos(theta)
    if dof % 2:
        total, term = 0.0, c
        for k in range((dof - 1) // 2):
            if k:
                term *= (2 * k) / (2 * k + 1) * c * c
            total += term
        return min(1.0, (2 / math.pi) * (theta + s * total))
    total, term = 0.0, 1.0
    for k in range(dof // 2):
        if k:
            term *= (2 * k - 1) / (2 * k) * c * c
        total += term
    return min(1.0, s * total)


def t_critical(dof: int, alpha: float = ALPHA) -> float:
    """The |t| whose two-sided p is `alpha` (bisection on `t_cdf_two_sided`)."""
    low, high = 0.0, 1.0
    while t_cdf_two_sided(high, dof) < 1 - alpha:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if t_cdf_two_sided(mid, dof) < 1 - alpha:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def paired_t_test(differences, alpha: float = ALPHA) -> dict:
    """The test of per-seed paired differences.

    Returns:
        {"n", "mean", "std" (ddof 1), "t", "p" (two-sided), "ci" ((low, high) at 1 - alpha),
        "resolved" (p < alpha), "direction" ("above", "below" or None)}; with fewer than 2
        differences t, p and ci are None and nothing is resolved. Zero spread with a
        non-zero mean gives t = inf, p = 0 (every seed moved by exactly the same amount).
    """
    values = [float(d) for d in differences if d is not None and math.isfinite(d)]
    n = len(values)
    mean = sum(values) / n if n else math.nan
    result = {"n": n, "mean": mean, "std": None, "t": None, "p": None, "ci": None,
              "resolved": False, "direction": None}  # fmt: skip
    if n < 2:
        return result
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    error = std / math.sqrt(n)
    if error == 0:
        t = 0.0 if mean == 0 else math.copysign(math.inf, mean)
    else:
        t = mean / error
    p = 1.0 - t_cdf_two_sided(t, n - 1)
    half = t_critical(n - 1, alpha) * error
    resolved = p < alpha
    direction = ("above" if mean > 0 else "below") if resolved else None
    return {**result, "std": std, "t": t, "p": p, "ci": (mean - half, mean + half),
            "resolved": resolved, "direction": direction}  # fmt: skip


def describe(test: dict, digits: int = 1) -> str:
    """e.g. "+2.3 (95% CI -0.4 to +5.0, t = 3.64, p = 0.068, n = 3): not resolved"."""
    if test["n"] == 0:
        return "no paired seeds"
    if test["n"] < 2:
        return f"{test['mean']:+.{digits}f} (one seed: not tested)"
    low, high = test["ci"]
    t = "±inf" if math.isinf(test["t"]) else f"{test['t']:.2f}"
    verdict = f"**{test['direction']}** (resolved)" if test["resolved"] else "not resolved"
    return (f"{test['mean']:+.{digits}f} (95% CI {low:+.{digits}f} to {high:+.{digits}f}, "
            f"t = {t}, p = {test['p']:.3f}, n = {test['n']}): {verdict}")  # fmt: skip
