"""medGAN networks and the fidelity and privacy metrics of the synthetic-EHR chapter."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_tutorial import losses, metrics, runtime, train
from gan_tutorial.nets import medgan

D = 30


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small networks: one thread is as fast and does not stall on busy shared cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _records(n=200, d=D, seed=0):
    rng = np.random.default_rng(seed)
    p = np.linspace(0.5, 0.02, d)
    X = (rng.random((n, d)) < p).astype(np.float32)
    X[:, 1] = X[:, 0]            # a perfectly predictable code
    return X


# ----------------------------------------------------------------------------- networks
def test_shapes_of_every_variant():
    ae = medgan.Autoencoder(D)
    x = torch.tensor(_records(8))
    assert ae(x).shape == (8, D)
    for name in medgan.VARIANTS:
        G, Dn = medgan.build(name, D, ae)
        out = G(torch.randn(8, medgan.NOISE_DIM))
        assert out.shape == (8, D) and out.min() >= 0 and out.max() <= 1
        assert Dn(out).shape == (8,)


def test_variant_flags():
    ae = medgan.Autoencoder(D)
    G, Dn = medgan.build("medGAN", D, ae)
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules()) and G.shortcut
    assert Dn.first[0].in_features == 2 * D                # minibatch averaging: [x, mean]
    G, Dn = medgan.build("GAN", D)
    assert G.decoder is None and Dn.first[0].in_features == D
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules())
    G, Dn = medgan.build("GAN-PD", D, ae)
    assert Dn.mbd is not None
    with pytest.raises(ValueError, match="needs the pretrained autoencoder"):
        medgan.build("GAN-P", D)
    with pytest.raises(ValueError, match="unknown variant"):
        medgan.build("WGAN", D, ae)


def test_decoder_is_a_copy_fine_tuned_with_G():
    ae = medgan.Autoencoder(D)
    G, _ = medgan.build("medGAN", D, ae)
    assert G.decoder is not ae.decoder
    assert torch.equal(G.decoder.linear.weight, ae.decoder.linear.weight)
    assert any(p is G.decoder.linear.weight for p in G.parameters())


def test_minibatch_averaging_sees_the_batch():
    Dn = medgan.Discriminator(D, minibatch="averaging")
    x = torch.tensor(_records(16))
    alone = Dn(x[:1])
    together = Dn(x)[:1]
    assert not torch.allclose(alone, together)  # the same record scores differently in another batch


def test_pairwise_l1_written_out_matches_cdist_in_value_and_gradient():
    """The broadcast form used on CUDA gives cdist's distances and gradients, self-distance 0,
    and each distance is the sum of absolute differences."""
    m = torch.randn(3, 7, 5, dtype=torch.float64, requires_grad=True)
    a = medgan.pairwise_l1(m)
    b = medgan.pairwise_l1(m, broadcast=True)
    assert a.shape == b.shape == (3, 7, 7)
    torch.testing.assert_close(a, b)
    assert torch.all(b.diagonal(dim1=1, dim2=2) == 0)
    assert torch.isclose(b[1, 2, 4], (m[1, 2] - m[1, 4]).abs().sum())
    w = torch.randn(3, 7, 7, dtype=torch.float64)
    ga, = torch.autograd.grad((torch.exp(-a) * w).sum(), m)
    gb, = torch.autograd.grad((torch.exp(-b) * w).sum(), m)
    torch.testing.assert_close(ga, gb)


def test_autoencoder_pretraining_lowers_the_loss():
    torch.manual_seed(0)
    ae = medgan.Autoencoder(D)
    X = torch.tensor(_records(300))
    hist = medgan.pretrain_autoencoder(ae, X, epochs=15, batch_size=50, valid=X[:50], progress=False)
    assert hist["train"][-1] < 0.7 * hist["train"][0]
    assert len(hist["valid"]) == 15
    with pytest.raises(ValueError, match="empty"):
        medgan.pretrain_autoencoder(ae, X[:0], epochs=1, progress=False)


def test_sample_burn_in_sets_batch_norm_statistics_and_binarizes():
    torch.manual_seed(0)
    G, _ = medgan.build("medGAN", D, medgan.Autoencoder(D))
    bn = next(m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d))
    S = medgan.sample(G, 250, batch_size=100, burn_in=3)
    assert S.shape == (250, D) and set(S.unique().tolist()) <= {0.0, 1.0}
    assert bn.num_batches_tracked == 3 and bn.momentum == 0.01
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    assert G.training                                     # mode restored
    P = medgan.sample(G, 10, burn_in=0, binarize=False)
    assert ((P > 0) & (P < 1)).any()


def test_medgan_trains_through_the_course_loop():
    torch.manual_seed(0)
    X = torch.tensor(_records(256))
    ae = medgan.Autoencoder(D)
    medgan.pretrain_autoencoder(ae, X, epochs=5, batch_size=64, progress=False)
    G, Dn = medgan.build("medGAN", D, ae)
    oG, oD = medgan.optimizers(G, Dn)
    assert oG.defaults["weight_decay"] == 1e-3 and oG.defaults["lr"] == 1e-3
    hist = train.train(G, Dn, oG, oD, train.tensor_sampler(X, 64), lambda n: torch.randn(n, 128),
                       200, loss_D=losses.discriminator_loss,
                       loss_G=losses.nonsaturating_generator_loss, k=2, progress=False, log_every=10)
    assert len(hist.loss_D) == 200 and np.isfinite(hist.loss_D).all()
    S = medgan.sample(G, 500, burn_in=5)
    _, _, r = metrics.dimension_wise_probability(X, S)
    assert r > 0.4                                        # it follows the code frequencies


def test_generator_shortcut_needs_equal_widths():
    with pytest.raises(ValueError, match="equal widths"):
        medgan.Generator(noise_dim=64, decoder=medgan.Decoder(128, D))


# ----------------------------------------------------------------------------- fidelity
def test_dimension_wise_probability():
    X = _records(500)
    _, _, r = metrics.dimension_wise_probability(X, X)
    assert r == pytest.approx(1.0)
    _, _, r0 = metrics.dimension_wise_probability(X, X[:, ::-1])
    assert r0 < 0
    with pytest.raises(ValueError, match="binary"):
        metrics.dimension_wise_probability(X, X * 0.5)
    with pytest.raises(ValueError, match="codes"):
        metrics.dimension_wise_probability(X, X[:, :5])


def test_dimension_wise_prediction_sees_structure_marginals_do_not():
    X = _records(2000, seed=1)
    tr, te = X[:1500], X[1500:]
    cols = [0, 1]
    real = metrics.dimension_wise_prediction(tr, te, tr, cols)
    assert real.f1_real.min() > 0.95 and real.ratio == pytest.approx(1.0)
    marg = metrics.dimension_wise_prediction(tr, te, metrics.independent_marginals(tr, 1500), cols)
    assert marg.ratio < 0.8


def test_batched_logistic_regression_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    X = _records(400, seed=2)
    W, b = metrics.fit_logistic_per_code(X, [3], C=1.0, max_iter=200)
    assert W[3, 0] == 0                                    # a code never predicts itself
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(np.delete(X, 3, 1), X[:, 3])
    ours = np.delete(W[:, 0].numpy(), 3)
    assert np.allclose(ours, clf.coef_[0], atol=2e-2) and abs(float(b[0]) - clf.intercept_[0]) < 2e-2


# ----------------------------------------------------------------------------- privacy
def test_hamming_to_nearest():
    a = np.array([[1, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float32)
    b = np.array([[1, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
    d, j = metrics.hamming_to_nearest(a, b)
    assert list(d) == [1, 1] and list(j) == [0, 1]


def test_presence_disclosure_catches_copies_not_fresh_records():
    X = _records(1200, d=60, seed=3)
    members, nonmembers, train_set = X[:200], X[1000:1200], X[:800]
    copy = metrics.copy_with_flips(train_set, 800, flips=1, seed=0)
    leak = metrics.presence_disclosure(members, nonmembers, copy, thresholds=[1])
    assert leak["sensitivity"][0] == 1.0 and leak["precision"][0] > 0.6
    assert leak["claims"][0] >= 200
    fresh = metrics.presence_disclosure(members, nonmembers, X[800:1000], thresholds=range(0, 16))
    claimed = fresh["sensitivity"] > 0.2
    assert claimed.any() and (fresh["precision"][claimed] < 0.6).all()


def test_attribute_disclosure_and_dcr():
    X = _records(600, d=40, seed=4)
    known = np.arange(10)
    p_copy, s_copy = metrics.attribute_disclosure(X[:100], X[:400], known)
    p_new, s_new = metrics.attribute_disclosure(X[:100], X[400:], known)
    assert p_copy > p_new and s_copy > s_new
    d_syn, d_hold = metrics.distance_to_closest_record(X[:100], X[:400], X[400:])
    assert (d_syn == 0).all() and (d_hold > 0).mean() > 0.5


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_record_scores_on_a_device_match_the_cpu(device):
    X = _records(700, d=40, seed=5)
    S = metrics.copy_with_flips(X[:400], 300, flips=2, seed=2)
    d, j = metrics.hamming_to_nearest(X[400:], X[:400], chunk=64, device=device)
    d0, j0 = metrics.hamming_to_nearest(X[400:], X[:400])
    assert isinstance(d, np.ndarray) and (d == d0).all() and (j == j0).all()
    pres = metrics.presence_disclosure(X[:100], X[400:500], S, device=device)
    pres0 = metrics.presence_disclosure(X[:100], X[400:500], S)
    assert all(np.array_equal(pres[k], pres0[k], equal_nan=True) for k in pres0)
    known = np.arange(10)
    assert metrics.attribute_disclosure(X[:100], S, known, device=device) == \
        metrics.attribute_disclosure(X[:100], S, known)
    for a, b in zip(metrics.distance_to_closest_record(S, X[:400], X[400:], device=device),
                    metrics.distance_to_closest_record(S, X[:400], X[400:])):
        assert (a == b).all()
    W, b = metrics.fit_logistic_per_code(X, [0, 3], device=device)
    assert W.device.type == device
    W0, b0 = metrics.fit_logistic_per_code(X, [0, 3])
    assert torch.allclose(W.cpu(), W0, atol=1e-3) and torch.allclose(b.cpu(), b0, atol=1e-3)
    pred = metrics.dimension_wise_prediction(X[:400], X[400:], S, [0, 1], device=device)
    assert pred.f1_real.shape == (2,) and 0 <= pred.ratio <= 1.5


def test_score_timing_benchmark_runs_and_rejects_tiny_sizes(load_benchmark, capsys):
    bench = load_benchmark("ehr_scores")
    threads = torch.get_num_threads()
    try:
        seconds = bench.main(["--patients", "300", "--codes", "120", "--device", "cpu"])
        assert runtime.machine_line("cpu") in capsys.readouterr().out   # one thread, as it ran
    finally:
        torch.set_num_threads(threads)   # the benchmark asks for one thread, as chapter 08 does
    assert len(seconds) == 5 and all(s >= 0 for s in seconds.values())
    assert seconds["all four"] == pytest.approx(sum(v for k, v in seconds.items() if k != "all four"))
    with pytest.raises(SystemExit, match="--patients"):
        bench.main(["--patients", "50"])


def test_copy_with_flips_flips_exactly():
    X = _records(50)
    C = metrics.copy_with_flips(X, 50, flips=3, seed=1)
    d, _ = metrics.hamming_to_nearest(C, X)
    assert (d <= 3).all() and np.isin(C, (0, 1)).all()
