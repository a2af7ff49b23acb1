"""Known-answer tests for tinygan.metrics (pure array functions; every backend)."""
import math

import numpy
import pytest

from tinygan import metrics
from tinygan.backend import to_numpy


# -- Frechet distance ---------------------------------------------------------------

def _rank_deficient_features(rng, xp, n=2000, f=32, rank=12):
    """Features confined to a rank-12 subspace: the singular case FID must survive."""
    return (rng.standard_normal((n, rank), dtype=xp.float32)
            @ rng.standard_normal((rank, f), dtype=xp.float32)) * 5


@pytest.mark.parametrize("rank", [32, 12])
def test_fid_of_a_set_with_itself_is_zero(xp, rng, rank):
    feats = _rank_deficient_features(rng, xp, rank=rank)
    mu, S = metrics.feature_stats(feats)
    d2 = metrics.frechet_distance(mu, S, mu, S)
    assert isinstance(d2, float)
    assert d2 < 1e-6 * float(xp.trace(S))  # relative to the total variance


def test_feature_stats_are_mean_and_unbiased_covariance(xp, rng):
    feats = rng.standard_normal((50, 4), dtype=xp.float32)
    mu, S = metrics.feature_stats(feats)
    assert mu.dtype == xp.float64 and S.shape == (4, 4)
    host = to_numpy(feats).astype(numpy.float64)
    numpy.testing.assert_allclose(to_numpy(mu), host.mean(0), rtol=1e-12)
    numpy.testing.assert_allclose(to_numpy(S), numpy.cov(host, rowvar=False), rtol=1e-12)


def test_fid_of_commuting_gaussians_matches_closed_form(xp, rng):
    # S1 = Q diag(a) Q^T, S2 = Q diag(b) Q^T commute, so
    # d^2 = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2
    f = 6
    Q, _ = xp.linalg.qr(rng.standard_normal((f, f)))
    a = xp.asarray([4.0, 1.0, 0.25, 9.0, 2.0, 0.0])  # one zero variance: singular S1
    b = xp.asarray([1.0, 1.0, 1.0, 16.0, 0.5, 3.0])
    S1, S2 = (Q * a) @ Q.T, (Q * b) @ Q.T
    mu1, mu2 = rng.standard_normal(f), rng.standard_normal(f)
    expected = float(((mu1 - mu2) ** 2).sum() + ((xp.sqrt(a) - xp.sqrt(b)) ** 2).sum())
    got = metrics.frechet_distance(mu1, S1, mu2, S2)
    assert abs(got - expected) < 1e-10 * expected
    assert abs(metrics.frechet_distance(mu2, S2, mu1, S1) - expected) < 1e-10 * expected


def test_fid_of_non_commuting_2d_gaussians_matches_closed_form(xp):
    # For 2x2 PSD M: (tr M^{1/2})^2 = tr M + 2 sqrt(det M); with M = S1^{1/2} S2 S1^{1/2}:
    # tr M = tr(S1 S2), det M = det S1 det S2.
    S1 = xp.asarray([[2.0, 0.8], [0.8, 1.0]])
    S2 = xp.asarray([[1.0, -0.3], [-0.3, 0.5]])
    mu1, mu2 = xp.asarray([0.0, 1.0]), xp.asarray([1.0, -1.0])
    tr_sqrt = math.sqrt(float(xp.trace(S1 @ S2))
                        + 2 * math.sqrt(float(xp.linalg.det(S1) * xp.linalg.det(S2))))
    expected = 5.0 + float(xp.trace(S1) + xp.trace(S2)) - 2 * tr_sqrt
    assert abs(metrics.frechet_distance(mu1, S1, mu2, S2) - expected) < 1e-12


def test_fid_rejects_bad_shapes(xp):
    with pytest.raises(ValueError, match="covariance"):
        metrics.frechet_distance(xp.zeros(3), xp.eye(2), xp.zeros(3), xp.eye(3))
    with pytest.raises(ValueError, match=r"\(N, F\)"):
        metrics.feature_stats(xp.zeros(5))


# -- earth mover's distance ---------------------------------------------------------

def test_emd_discrete_piles_of_dirt(xp):
    P, Q = xp.asarray([3, 2, 1, 4]), xp.asarray([1, 2, 4, 3])
    assert metrics.emd_discrete(P, Q) == 5.0
    assert metrics.emd_discrete(Q, P) == 5.0
    assert metrics.emd_discrete(P, P) == 0.0
    with pytest.raises(ValueError, match="equal mass"):
        metrics.emd_discrete(P, xp.asarray([1, 1, 1, 1]))


def test_emd_1d_of_shifted_sets_is_the_shift(xp, rng):
    a = rng.standard_normal(500)
    assert abs(metrics.emd_1d(a, a + 0.75) - 0.75) < 1e-12
    assert abs(metrics.emd_1d(a - 2.0, a) - 2.0) < 1e-12
    assert metrics.emd_1d(a, a[::-1]) == 0.0  # order does not matter


def test_emd_1d_unequal_sizes_matches_replicated_quantiles(xp, rng):
    # Replicating every point of a (n) m times and of b (m) n times gives two equal-sized
    # sets with the same distributions; for equal sizes W1 = mean |a_(i) - b_(i)|.
    a, b = rng.standard_normal(7), rng.standard_normal(11) + 0.3
    a_rep, b_rep = xp.sort(xp.repeat(a, 11)), xp.sort(xp.repeat(b, 7))
    direct = float(xp.abs(a_rep - b_rep).mean())
    assert abs(metrics.emd_1d(a, b) - direct) < 1e-12
    assert abs(metrics.emd_1d(b, a) - direct) < 1e-12


# -- precision and recall -----------------------------------------------------------

def test_precision_recall_identical_and_far_apart(xp, rng):
    real = rng.standard_normal((300, 8), dtype=xp.float32)
    assert tuple(metrics.precision_recall(real, real.copy(), k=3)) == (1.0, 1.0)
    far = real + 100
    assert tuple(metrics.precision_recall(real, far, k=3)) == (0.0, 0.0)


def _pr_direct(real, fake, k):
    """Brute force on the host, from the definition: loops over points, sorted distances."""
    real, fake = to_numpy(real).astype(numpy.float64), to_numpy(fake).astype(numpy.float64)

    def radius(p, own):  # distance to the k-th nearest other point of its own set
        return numpy.sort([numpy.linalg.norm(p - q) for q in own])[k]

    def covered(points, centres):
        radii = [radius(c, centres) for c in centres]
        return numpy.mean([any(numpy.linalg.norm(p - c) <= r for c, r in zip(centres, radii))
                           for p in points])

    return covered(fake, real), covered(real, fake)


def test_precision_recall_half_off_manifold(xp, rng):
    # Half of the fakes are real points, half a far clump: precision is exactly 1/2.
    real = rng.standard_normal((60, 4))
    fake = xp.concatenate([real[:30], real[:30] * 0.01 + 50])
    pr = metrics.precision_recall(real, fake, k=3)
    assert pr.precision == 0.5
    precision, recall = _pr_direct(real, fake, 3)
    assert (pr.precision, pr.recall) == (precision, recall)
    assert 0.5 <= pr.recall < 1  # the 30 shared points plus some of their neighbours


def test_precision_recall_matches_brute_force(xp, rng):
    real = rng.standard_normal((50, 3))
    fake = rng.standard_normal((40, 3)) * 0.7 + 0.5
    for k in (1, 3, 5):
        assert tuple(metrics.precision_recall(real, fake, k=k)) == _pr_direct(real, fake, k)


def test_precision_recall_batching_does_not_change_the_answer(xp, rng):
    real = rng.standard_normal((120, 5))
    fake = rng.standard_normal((90, 5)) * 1.3 + 0.4
    assert metrics.precision_recall(real, fake, block=7) == metrics.precision_recall(real, fake)


def test_knn_radius_excludes_the_point_itself(xp):
    pts = xp.asarray([[0.0], [1.0], [3.0], [7.0]])
    # k = 1: nearest other point; k = 2: second nearest
    numpy.testing.assert_allclose(to_numpy(metrics.knn_radii_sq(pts, 1)), [1, 1, 4, 16])
    numpy.testing.assert_allclose(to_numpy(metrics.knn_radii_sq(pts, 2)), [9, 4, 9, 36])


# -- Parzen window ------------------------------------------------------------------

def _parzen_loop(samples, test, sigma):
    """Direct per-point computation on the host, straight from the formula."""
    samples, test = to_numpy(samples), to_numpy(test)
    n, d = samples.shape
    lls = []
    for x in test:
        terms = [-((x - mu) ** 2).sum() / (2 * sigma ** 2) for mu in samples]
        m = max(terms)
        lme = m + math.log(sum(math.exp(t - m) for t in terms) / n)
        lls.append(lme - d * math.log(sigma * math.sqrt(2 * math.pi)))
    return numpy.array(lls)


def test_parzen_matches_direct_loop(xp, rng):
    samples = rng.random((40, 6))
    test = rng.random((13, 6))
    for sigma in (0.05, 0.3, 2.0):  # 0.05: exponents ~ -1e3 need the stable log-mean-exp
        res = metrics.parzen_log_likelihood(samples, test, sigma, block=4)
        ll = _parzen_loop(samples, test, sigma)
        assert abs(res.mean - ll.mean()) < 1e-9 * abs(ll.mean())
        assert abs(res.std_error - ll.std() / math.sqrt(13)) < 1e-9 * ll.std()
        assert res.sigma == sigma


def test_parzen_select_sigma_picks_the_best_on_validation(xp, rng):
    samples = rng.random((30, 5))
    valid = rng.random((11, 5))
    sigmas = metrics.PARZEN_SIGMAS
    best, means = metrics.parzen_select_sigma(samples, valid, sigmas, block=3)
    direct = [_parzen_loop(samples, valid, s).mean() for s in sigmas]
    numpy.testing.assert_allclose(means, direct, rtol=1e-9)
    assert best == sigmas[int(numpy.argmax(direct))]
    numpy.testing.assert_allclose(sigmas, numpy.logspace(-1, 0, 10), rtol=1e-12)


def test_parzen_keeps_float32_and_rejects_mismatch(xp, rng):
    samples = rng.random((20, 3), dtype=xp.float32)
    ll = metrics.parzen_log_densities(samples, samples[:5], 0.2)
    assert ll.dtype == xp.float32
    with pytest.raises(ValueError, match="dimensions differ"):
        metrics.parzen_log_likelihood(samples, samples[:, :2], 0.2)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        metrics.parzen_log_likelihood(samples, samples, 0.0)


# -- Inception-style score ----------------------------------------------------------

def test_inception_score_bounds(xp):
    K = 10
    confident_balanced = xp.eye(K, dtype=xp.float32)[xp.arange(200) % K]
    s = metrics.inception_score_from_probs(confident_balanced, splits=10)
    assert abs(s.mean - K) < 1e-9 and s.std < 1e-9
    p = xp.asarray([0.5, 0.2, 0.1, 0.1, 0.1])
    constant = xp.tile(p, (100, 1))
    s = metrics.inception_score_from_probs(constant, splits=5)
    assert abs(s.mean - 1.0) < 1e-12 and s.std < 1e-12


def test_inception_score_two_classes_by_hand(xp):
    # p(y|x) = (1, 0) for half, (1/2, 1/2) for the other half; p(y) = (3/4, 1/4).
    # KL1 = log(4/3), KL2 = 1/2 log(2/3) + 1/2 log(2) = 1/2 log(4/3); IS = exp(3/4 log(4/3))
    probs = xp.asarray([[1.0, 0.0], [0.5, 0.5]] * 4)
    s = metrics.inception_score_from_probs(probs, splits=1)
    assert abs(s.mean - (4 / 3) ** 0.75) < 1e-12


# -- mode coverage ------------------------------------------------------------------

def test_mode_coverage_hand_made(xp):
    centres = numpy.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    std = 0.02
    samples = xp.asarray([
        [1.0, 0.0], [1.01, 0.02], [0.97, -0.03],   # mode 0: 3 high quality (<= 0.06)
        [-1.0, 0.059],                            # mode 2: just inside 3 std
        [0.0, 0.93],                              # nearest mode 1 but 0.07 > 3 std
        [0.0, 0.0],                               # between modes
    ], dtype=xp.float32)
    cov = metrics.mode_coverage(samples, centres, std)
    assert cov.modes_captured == 2
    assert cov.high_quality_share == 4 / 6
    assert cov.counts.tolist() == [3, 0, 1, 0]


def test_mode_coverage_rejects_bad_input(xp):
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        metrics.mode_coverage(xp.zeros((5, 3)), numpy.zeros((2, 2)), 0.1)
    with pytest.raises(ValueError, match="std must be > 0"):
        metrics.mode_coverage(xp.zeros((5, 2)), numpy.zeros((2, 2)), 0.0)
