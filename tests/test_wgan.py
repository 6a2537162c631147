"""Wasserstein losses, the gradient penalty, and the optional CUDA-graph mode of ``train``."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from gan_tutorial import losses, runtime, train
from gan_tutorial.data import toy
from gan_tutorial.nets import mlp


def linear_critic(w: torch.Tensor, b: float = 0.3) -> nn.Module:
    """D(x) = w . flatten(x) + b: its input gradient is w everywhere, so the penalty is
    (||w|| - 1)^2 whatever the interpolation."""
    lin = nn.Linear(w.numel(), 1)
    with torch.no_grad():
        lin.weight.copy_(w.reshape(1, -1))
        lin.bias.fill_(b)
    return nn.Sequential(nn.Flatten(), lin)


class HalfSquaredNorm(nn.Module):
    """D(x) = 0.5 ||x||^2 per sample: grad_x D = x, a different norm for every sample."""

    def forward(self, x):
        return 0.5 * x.reshape(len(x), -1).pow(2).sum(1, keepdim=True)


def test_penalty_of_linear_critic_by_hand():
    w = torch.tensor([3.0, 4.0])                       # ||w|| = 5 -> (5 - 1)^2 = 16
    D = linear_critic(w)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    gp = losses.gradient_penalty(D, real, fake)
    assert gp.item() == pytest.approx(16.0, rel=1e-6)
    # a critic with unit-norm gradient pays nothing
    D1 = linear_critic(torch.tensor([0.6, 0.8]))
    assert losses.gradient_penalty(D1, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_penalty_flattens_all_non_batch_dimensions():
    w = torch.full((3, 4, 4), 0.25)                    # 48 entries of 1/4: ||w|| = sqrt(3)
    D = linear_critic(w)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    expected = (3 ** 0.5 - 1) ** 2
    assert losses.gradient_penalty(D, real, fake).item() == pytest.approx(expected, rel=1e-5)


def test_penalty_uses_per_sample_norms_and_alpha():
    real = torch.tensor([[2.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 3.0]])
    alpha = torch.tensor([0.5, 0.25, 1.0])
    # x_hat = alpha real + (1 - alpha) fake = (1, 0), (0, 1), (1, 1); norms 1, 1, sqrt(2)
    expected = (0 + 0 + (2 ** 0.5 - 1) ** 2) / 3
    gp = losses.gradient_penalty(HalfSquaredNorm(), real, fake, alpha=alpha)
    assert gp.item() == pytest.approx(expected, rel=1e-6)
    # one norm over the whole batch would give (sqrt(4) - 1)^2 = 1: a different number
    assert abs(gp.item() - 1.0) > 0.5


def test_penalty_is_differentiable_in_the_critic_parameters():
    w = torch.tensor([3.0, 4.0])
    D = linear_critic(w)
    gp = losses.gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()                                      # needs create_graph=True
    lin = D[1]
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * (0.6, 0.8)
    assert torch.allclose(lin.weight.grad, torch.tensor([[4.8, 6.4]]), atol=1e-5)
    assert lin.bias.grad is None or lin.bias.grad.abs().item() < 1e-12


def test_penalty_rejects_bad_shapes():
    D = linear_critic(torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="same shape"):
        losses.gradient_penalty(D, torch.randn(4, 2), torch.randn(3, 2))
    with pytest.raises(ValueError, match="alpha"):
        losses.gradient_penalty(D, torch.randn(4, 2), torch.randn(4, 2), alpha=torch.rand(4, 1))


def test_wasserstein_losses_by_hand():
    D = linear_critic(torch.tensor([1.0, 0.0]), b=0.0)  # D(x) = x_1
    real = torch.tensor([[2.0, 5.0], [4.0, -1.0]])       # mean D = 3
    fake = torch.tensor([[1.0, 0.0], [0.0, 9.0]])        # mean D = 0.5
    assert losses.wasserstein_critic_loss(D, real, fake).item() == pytest.approx(0.5 - 3.0)
    assert losses.wasserstein_generator_loss(D, fake).item() == pytest.approx(-0.5)
    # ||w|| = 1: the penalty vanishes and the WGAN-GP loss equals the critic loss
    assert losses.wgan_gp_critic_loss(10.0)(D, real, fake).item() == pytest.approx(-2.5)
    D2 = linear_critic(torch.tensor([2.0, 0.0]), b=0.0)  # ||w|| = 2: penalty 1, lambda 10
    assert losses.wgan_gp_critic_loss(10.0)(D2, real, fake).item() == pytest.approx(-5.0 + 10.0)
    assert losses.wgan_gp_critic_loss(0.0)(D2, real, fake).item() == pytest.approx(-5.0)
    with pytest.raises(ValueError, match="lambda"):
        losses.wgan_gp_critic_loss(-1.0)


def _setup(seed=0):
    torch.manual_seed(seed)
    G, D = mlp.generator(2, 2, 16, 2), mlp.discriminator(2, 16, 2)
    oG = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.0, 0.9))
    oD = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.0, 0.9))
    return G, D, oG, oD


def test_train_matches_a_plain_wgan_gp_loop():
    """The loop inside ``train`` does exactly Algorithm 1: same seed, same parameters."""
    mix = toy.ring()
    noise = lambda n: torch.randn(n, 2)  # noqa: E731
    G, D, oG, oD = _setup()
    G2, D2, oG2, oD2 = copy.deepcopy(G), copy.deepcopy(D), None, None
    oG2 = torch.optim.Adam(G2.parameters(), 1e-3, betas=(0.0, 0.9))
    oD2 = torch.optim.Adam(D2.parameters(), 1e-3, betas=(0.0, 0.9))
    loss_D = losses.wgan_gp_critic_loss(10.0)
    torch.manual_seed(1)
    train.train(G, D, oG, oD, mix.sampler(32), noise, 4, loss_D=loss_D,
                loss_G=losses.wasserstein_generator_loss, k=3, progress=False, log_every=2)
    torch.manual_seed(1)
    sample = mix.sampler(32)
    for _ in range(4):
        for _ in range(3):
            real = sample()
            with torch.no_grad():
                fake = G2(noise(32))
            oD2.zero_grad()
            loss_D(D2, real, fake).backward()
            oD2.step()
        oG2.zero_grad()
        losses.wasserstein_generator_loss(D2, G2(noise(32))).backward()
        oG2.step()
    for a, b in zip(list(G.parameters()) + list(D.parameters()),
                    list(G2.parameters()) + list(D2.parameters())):
        assert torch.equal(a, b)


def test_cuda_graph_falls_back_on_cpu_with_the_reason(capsys):
    mix = toy.grid()
    runs = []
    for graph in (False, True):
        G, D, oG, oD = _setup()
        torch.manual_seed(3)
        h = train.train(G, D, oG, oD, mix.sampler(32), lambda n: torch.randn(n, 2), 6,
                        loss_D=losses.wgan_gp_critic_loss(10.0),
                        loss_G=losses.wasserstein_generator_loss, k=2, log_every=3,
                        progress=False, cuda_graph=graph)
        runs.append((h, [p.detach().clone() for p in G.parameters()]))
    out = capsys.readouterr().out
    assert "cuda_graph=True: running eagerly" in out and "CUDA device" in out
    (h0, p0), (h1, p1) = runs
    assert h0.mode == h1.mode == "eager"
    assert h0.loss_D == h1.loss_D and h0.grad_norm_G == h1.grad_norm_G
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))
    assert len(h1.loss_D) == 6 and h1.grad_step == [3, 6]


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)`")
def test_graph_learning_rates_become_tensors_that_schedulers_fill():
    G, D, oG, oD = _setup()
    sch = torch.optim.lr_scheduler.LambdaLR(oG, lambda i: 0.5 ** i)
    it = train._GraphedIteration(lambda with_norms: None, torch.device("cpu"), (oG,), [sch])
    (group, t), = it.lr_tensors
    assert isinstance(group["lr"], torch.Tensor) and group["lr"] is t
    sch.step()
    it.sync_learning_rates()
    assert group["lr"] is t and t.item() == pytest.approx(0.5e-3)
    group["lr"] = 0.25e-3                                # a scheduler that assigns a new number
    it.sync_learning_rates()
    assert group["lr"] is t and t.item() == pytest.approx(0.25e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_trains_like_eager_on_cuda():  # pragma: no cover - no GPU in CI
    mix = toy.ring()
    dev = torch.device("cuda")
    result = {}
    for graph in (False, True):
        G, D, _, _ = _setup()
        G, D = G.to(dev), D.to(dev)
        oG = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.0, 0.9), capturable=True)
        oD = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.0, 0.9), capturable=True)
        h = train.train(G, D, oG, oD, mix.sampler(64, dev), lambda n: torch.randn(n, 2, device=dev),
                        30, loss_D=losses.wgan_gp_critic_loss(10.0),
                        loss_G=losses.wasserstein_generator_loss, k=5, progress=False,
                        cuda_graph=graph)
        result[graph] = h
    assert result[True].mode == "cuda_graph"
    assert all(torch.isfinite(torch.tensor(result[True].loss_D)))



def test_generator_step_with_a_frozen_critic_reaches_G_but_not_the_critic_weights():
    torch.manual_seed(0)
    G, D = mlp.generator(2, 2, 8, 1), mlp.discriminator(2, 8, 1)
    first = next(D.parameters())
    first.requires_grad_(False)                         # frozen by the user: must stay frozen
    with train.frozen(D):
        loss = losses.wasserstein_generator_loss(D, G(torch.randn(16, 2)))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    assert all(p.grad is None for p in D.parameters())
    assert [p.requires_grad for p in D.parameters()] == [p is not first for p in D.parameters()]
    first.requires_grad_(True)
    # same value and same G gradient as the plain expression
    G2 = copy.deepcopy(G)
    z = torch.randn(16, 2)
    a = losses.wasserstein_generator_loss(D, G(z))
    b = -D(G2(z)).mean()
    assert torch.allclose(a, b)
    ga = torch.autograd.grad(a, list(G.parameters()))
    gb = torch.autograd.grad(b, list(G2.parameters()))
    assert all(torch.allclose(x, y) for x, y in zip(ga, gb))


def test_toy_benchmarks_run_and_name_the_machine(load_benchmark, capsys):
    """The two WGAN-GP timing scripts run at tiny sizes, and their headers say what the rates
    depend on: device, CPU, torch and threads."""
    toy_throughput, wgan_gp_step = load_benchmark("toy_throughput"), load_benchmark("wgan_gp_step")
    threads = torch.get_num_threads()
    try:
        toy_throughput.main(["--hidden", "8", "--iters", "4", "--warmup", "2", "--batch", "16"])
        out = capsys.readouterr().out
        assert runtime.machine_line() in out and "3x8: eager" in out
        with pytest.raises(SystemExit, match="--warmup"):
            toy_throughput.main(["--iters", "4", "--warmup", "4"])
        wgan_gp_step.main(["--hidden", "8", "--batch", "16", "--iters", "2", "--repeats", "1"])
        out = capsys.readouterr().out
        assert runtime.machine_line("cpu") in out and "ratio train.train / plain loop" in out
    finally:
        torch.set_num_threads(threads)
