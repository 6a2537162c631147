import math

import pytest
import torch
from torch import nn

from gan_tutorial import losses, train
from gan_tutorial.data import toy
from gan_tutorial.nets import mlp


def small_gan(seed=0, lr=1e-3):
    torch.manual_seed(seed)
    G, D = mlp.generator(1, 1, 16, 2), mlp.discriminator(1, 16, 2)
    oG = torch.optim.Adam(G.parameters(), lr, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), lr, betas=(0.5, 0.999))
    return G, D, oG, oD


def sample_real():
    return 3.0 + 0.5 * torch.randn(64, 1)


def noise(n):
    return torch.randn(n, 1)


def test_loss_values_on_logits_match_the_formulas():
    l = torch.tensor([-2.0, 0.0, 3.0])
    d = torch.sigmoid(l)
    assert losses.d_loss_logits(l, l).item() == pytest.approx(
        (-(torch.log(d)).mean() - torch.log(1 - d).mean()).item(), rel=1e-6)
    assert losses.minimax_g_logits(l).item() == pytest.approx(torch.log(1 - d).mean().item(), rel=1e-6)
    assert losses.nonsaturating_g_logits(l).item() == pytest.approx(-torch.log(d).mean().item(), rel=1e-6)


def test_minimax_generator_gradient_vanishes_when_d_rejects_confidently():
    l = torch.tensor([-8.0], requires_grad=True)            # D(G(z)) = 3e-4
    (g_mm,) = torch.autograd.grad(losses.minimax_g_logits(l), l)
    (g_ns,) = torch.autograd.grad(losses.nonsaturating_g_logits(l), l)
    assert abs(g_mm.item()) == pytest.approx(torch.sigmoid(torch.tensor(-8.0)).item(), rel=1e-5)
    assert abs(g_ns.item()) == pytest.approx(1 - torch.sigmoid(torch.tensor(-8.0)).item(), rel=1e-5)


def test_generator_moves_towards_the_data():
    G, D, oG, oD = small_gan()
    before = G(torch.randn(2000, 1)).mean().item()
    hist = train.train(G, D, oG, oD, sample_real, noise, 600, progress=False, log_every=100)
    after = G(torch.randn(2000, 1)).mean().item()
    assert abs(after - 3.0) < abs(before - 3.0) / 2
    assert len(hist.loss_D) == 600 and hist.step[-1] == 600
    assert hist.grad_step == [100, 200, 300, 400, 500, 600]


def test_k_steps_metrics_and_callback():
    G, D, oG, oD = small_gan()
    calls = {"real": 0, "cb": []}

    def counting_real():
        calls["real"] += 1
        return sample_real()

    def metric(g, d):
        assert not g.training                                   # metrics sample in eval mode
        return 1.0

    hist = train.train(G, D, oG, oD, counting_real, noise, 10, k=3, metrics={"m": metric}, metric_every=5,
                       callback=lambda s, g, d, h: calls["cb"].append(s), callback_every=4, progress=False)
    assert calls["real"] == 30
    assert hist.metric_step == [5, 10] and hist.metrics["m"] == [1.0, 1.0]
    assert calls["cb"] == [4, 8, 10]


def test_weight_clipping_hook():
    G, D, oG, oD = small_gan()
    train.train(G, D, oG, oD, sample_real, noise, 5, after_D_step=train.clip_weights(0.01), progress=False)
    assert max(p.abs().max().item() for p in D.parameters()) <= 0.01 + 1e-7
    with pytest.raises(ValueError):
        train.clip_weights(0)


def test_divergence_is_reported_with_step_and_last_values():
    G, D, oG, oD = small_gan()

    def exploding(net_D, fake):
        out = net_D(fake).mean()
        return out * (math.inf if exploding.n >= 3 else 1.0) if not exploding.bump() else out

    exploding.n = 0

    def bump():
        exploding.n += 1
        return False

    exploding.bump = bump
    with pytest.raises(train.TrainingDiverged) as e:
        train.train(G, D, oG, oD, sample_real, noise, 10, loss_G=exploding, progress=False, log_every=2)
    assert e.value.step == 3 and e.value.which == "loss_G"
    assert "step 3" in str(e.value) and "loss_D=" in str(e.value)


def test_checkpoint_resume_gives_the_same_result(tmp_path):
    ck = tmp_path / "ck.pt"
    G, D, oG, oD = small_gan(1)
    torch.manual_seed(5)
    full = train.train(G, D, oG, oD, sample_real, noise, 40, progress=False)
    G2, D2, oG2, oD2 = small_gan(1)
    torch.manual_seed(5)
    train.train(G2, D2, oG2, oD2, sample_real, noise, 20, checkpoint=ck, progress=False)
    G3, D3, oG3, oD3 = small_gan(99)                         # different init: the checkpoint must win
    resumed = train.train(G3, D3, oG3, oD3, sample_real, noise, 40, checkpoint=ck, resume=True, progress=False)
    assert resumed.loss_G == pytest.approx(full.loss_G, rel=1e-5)
    for a, b in zip(G.parameters(), G3.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]    # no temporary files left


def test_bad_checkpoint_and_arguments(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        train.load_checkpoint(bad)
    with pytest.raises(FileNotFoundError):
        train.load_checkpoint(tmp_path / "missing.pt")
    G, D, oG, oD = small_gan()
    with pytest.raises(ValueError, match="k"):
        train.train(G, D, oG, oD, sample_real, noise, 5, k=0)
    with pytest.raises(ValueError, match="num_steps"):
        train.train(G, D, oG, oD, sample_real, noise, -1)


def test_tensor_sampler_draws_rows_of_the_dataset():
    data = torch.arange(10.0).reshape(10, 1)
    batch = train.tensor_sampler(data, 32)()
    assert batch.shape == (32, 1) and set(batch.flatten().tolist()) <= set(range(10))
    with pytest.raises(ValueError, match="empty"):
        train.tensor_sampler(data[:0], 4)


def test_toy_mixture_trains_through_the_loop():
    torch.manual_seed(0)
    ring = toy.ring()
    G, D = mlp.generator(2, 2, 64, 2), mlp.discriminator(2, 64, 2)
    oG = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    oD = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))

    def distance_to_ring():
        with torch.no_grad():
            return torch.cdist(G(torch.randn(1000, 2)), ring.means).min(1).values.mean().item()

    start = distance_to_ring()
    train.train(G, D, oG, oD, ring.sampler(128), lambda n: torch.randn(n, 2), 500, progress=False)
    assert distance_to_ring() < start / 2


def test_a_metric_may_return_several_numbers():
    G, D, oG, oD = small_gan()
    hist = train.train(G, D, oG, oD, sample_real, noise, 4, metrics={"both": lambda g, d: {"a": 1, "b": 2.5}},
                       metric_every=2, progress=False)
    assert hist.metrics == {"a": [1.0, 1.0], "b": [2.5, 2.5]} and hist.metric_step == [2, 4]


def test_reuse_fake_saves_one_generator_pass_and_still_learns():
    G, D, oG, oD = small_gan()
    calls = {"n": 0}
    G.register_forward_hook(lambda *a: calls.__setitem__("n", calls["n"] + 1))
    train.train(G, D, oG, oD, sample_real, noise, 10, k=2, reuse_fake=True, progress=False)
    assert calls["n"] == 10 * 2                               # k critic passes, none extra for G
    calls["n"] = 0
    train.train(G, D, oG, oD, sample_real, noise, 10, k=2, progress=False)
    assert calls["n"] == 10 * 3
    G, D, oG, oD = small_gan()
    before = G(torch.randn(2000, 1)).mean().item()
    train.train(G, D, oG, oD, sample_real, noise, 600, reuse_fake=True, progress=False)
    assert abs(G(torch.randn(2000, 1)).mean().item() - 3.0) < abs(before - 3.0) / 2


def test_train_critic_updates_only_the_critic():
    G, D, oG, oD = small_gan()
    g0 = [p.clone() for p in G.parameters()]
    d0 = [p.clone() for p in D.parameters()]
    fake = lambda n: G(noise(n)).detach()
    train.train_critic(D, oD, sample_real, fake, 5, after_D_step=train.clip_weights(0.05))
    assert all(torch.equal(a, b) for a, b in zip(g0, G.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d0, D.parameters()))
    assert max(p.abs().max().item() for p in D.parameters()) <= 0.05 + 1e-7


def test_ema_follows_the_formula_and_forgets_the_start_quickly():
    net = nn.Linear(3, 2)
    ema = train.EMA(net, decay=0.9)
    start = [p.detach().clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update(net)                                   # n = 1: d = min(0.9, 2 / 11)
    d = 2 / 11
    for e, s, p in zip(ema.module.parameters(), start, net.parameters()):
        assert torch.allclose(e, d * s + (1 - d) * p)
        assert not e.requires_grad
    for _ in range(200):
        ema.update(net)                               # a fixed target: the average converges to it
    for e, p in zip(ema.module.parameters(), net.parameters()):
        assert torch.allclose(e, p, atol=1e-6)
    with pytest.raises(ValueError, match="decay"):
        train.EMA(net, decay=1.0)
    with pytest.raises(ValueError, match="does not match"):
        ema.update(nn.Linear(3, 2, bias=False))


def test_ema_recomputes_batchnorm_statistics_for_the_averaged_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    ema = train.EMA(net)
    with torch.no_grad():
        ema.module[1].running_mean.fill_(123.0)       # stale statistics
    data = torch.randn(512, 4) * 2 + 1
    batches = iter(data.split(64))
    module = ema.recompute_batchnorm(lambda n: next(batches), batches=8, batch_size=64)
    assert module is ema.module and not module.training
    with torch.no_grad():
        h = module[0](data)
    assert torch.allclose(module[1].running_mean, h.mean(0), atol=1e-5)   # the mean over all passes
    assert module[1].momentum == 0.1                                     # restored


def test_train_updates_the_ema_and_resumes_it(tmp_path):
    ck = tmp_path / "ck.pt"
    G, D, oG, oD = small_gan(1)
    ema = train.EMA(G, decay=0.95)
    torch.manual_seed(5)
    train.train(G, D, oG, oD, sample_real, noise, 40, progress=False, ema=ema)
    assert ema.updates == 40
    G2, D2, oG2, oD2 = small_gan(1)
    ema2 = train.EMA(G2, decay=0.95)
    torch.manual_seed(5)
    train.train(G2, D2, oG2, oD2, sample_real, noise, 20, checkpoint=ck, progress=False, ema=ema2)
    G3, D3, oG3, oD3 = small_gan(99)
    ema3 = train.EMA(G3, decay=0.95)
    train.train(G3, D3, oG3, oD3, sample_real, noise, 40, checkpoint=ck, resume=True, progress=False, ema=ema3)
    assert ema3.updates == 40
    for a, b in zip(ema.module.parameters(), ema3.module.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_linear_decay_takes_both_rates_to_the_end_value_over_the_run():
    G, D, oG, oD = small_gan(lr=1e-3)
    oD.param_groups[0]["lr"] = 4e-3              # two time scales: the ratio is kept
    sch = train.linear_decay((oG, oD), num_steps=10, lr_end=0.1)
    assert len(sch) == 2
    train.train(G, D, oG, oD, sample_real, noise, 5, schedulers=sch, progress=False)
    assert oG.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 0.9 * 5 / 10))
    assert oD.param_groups[0]["lr"] == pytest.approx(4e-3 * (1 - 0.9 * 5 / 10))
    train.train(G, D, oG, oD, sample_real, noise, 5, schedulers=sch, progress=False)
    assert oG.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert oD.param_groups[0]["lr"] == pytest.approx(4e-4)
    assert train.linear_decay((oG, oD), 10, lr_end=1.0) == []


@pytest.mark.parametrize("steps, end, word", [(10, -0.1, "lr_end"), (10, 1.5, "lr_end"), (0, 0.0, "num_steps")])
def test_linear_decay_rejects_bad_arguments(steps, end, word):
    _, _, oG, oD = small_gan()
    with pytest.raises(ValueError, match=word):
        train.linear_decay((oG, oD), steps, end)
