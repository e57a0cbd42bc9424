"""Samplers on problems whose answer is known in closed form: Gaussian data, for which the
optimal noise predictor and the exact ODE flow are formulas, so any error is the sampler's."""

import itertools
import math

import pytest
import torch

from gen_diffusion import samplers
from gen_diffusion.schedules import GaussianSchedule, linear_betas

MU, S = 0.3, 0.2  # data ~ N(MU, S^2) in every dimension
N = 20_000


def optimal_eps(schedule: GaussianSchedule):
    """E[eps | x_t] for x_0 ~ N(MU, S^2): (x_t - sqrt(abar) MU) sqrt(1 - abar) /
    (abar S^2 + 1 - abar)."""
    def predict(x, t):
        abar = schedule.alphas_cumprod[t].view(-1, 1, 1, 1).to(x.dtype)
        return (x - abar.sqrt() * MU) * (1 - abar).sqrt() / (abar * S**2 + 1 - abar)
    return predict


def noise(n=N, seed=0):
    return torch.randn(n, 1, 1, 1, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


@pytest.mark.parametrize("sampler,steps,eta", [
    ("ancestral", 1000, None), ("ddim", 1000, 0.0), ("ddim", 1000, 0.5)])
def test_gaussian_samplers_recover_the_data_distribution(sampler, steps, eta):
    """Mean and standard deviation of 20,000 samples within 5 standard errors of MU and S
    (SE of the mean S / sqrt(N) = 0.0014, of the std S / sqrt(2N) = 0.001) plus 0.005 for the
    discretisation. Fewer steps are biased, and the test below pins DDIM's bias exactly:
    each deterministic step shrinks the spread (50 steps give a std of 0.176 here); the fixed
    variance beta-tilde of a long stochastic step is smaller than the true reverse one."""
    schedule = GaussianSchedule(linear_betas(1000))
    g = torch.Generator().manual_seed(1)
    predict = optimal_eps(schedule)
    if sampler == "ancestral":
        x = samplers.ancestral(predict, schedule, noise(), steps, g, clip=False)
    else:
        x = samplers.ddim(predict, schedule, noise(), steps, eta, g, clip=False)
    assert abs(x.mean().item() - MU) < 5 * S / math.sqrt(N) + 0.005
    assert abs(x.std().item() - S) < 5 * S / math.sqrt(2 * N) + 0.005


def test_ddim_with_eta_one_is_ancestral_sampling_on_the_respaced_schedule():
    """Song et al. 2021, section 4.1: eta = 1 gives the DDPM posterior's variance; with the
    same generator the two samplers draw the same noise and land on the same samples."""
    schedule = GaussianSchedule(linear_betas(1000))
    predict = optimal_eps(schedule)
    a = samplers.ancestral(predict, schedule, noise(100), 25, torch.Generator().manual_seed(3))
    d = samplers.ddim(predict, schedule, noise(100), 25, 1.0, torch.Generator().manual_seed(3))
    assert torch.allclose(a, d, atol=1e-9)


def test_ddim_eta_zero_is_deterministic_and_ignores_the_generator():
    schedule = GaussianSchedule(linear_betas(1000))
    predict = optimal_eps(schedule)
    x_T = noise(100)
    state = torch.get_rng_state()
    runs = [samplers.ddim(predict, schedule, x_T, 20, 0.0, g)
            for g in (torch.Generator().manual_seed(0), torch.Generator().manual_seed(7), None)]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])
    assert torch.equal(torch.get_rng_state(), state)
    stochastic = [samplers.ddim(predict, schedule, x_T, 20, 1.0, torch.Generator().manual_seed(s))
                  for s in (0, 0, 7)]
    assert torch.equal(stochastic[0], stochastic[1])
    assert not torch.equal(stochastic[0], stochastic[2])


def test_ddim_is_its_closed_form_on_gaussian_data():
    """With the optimal predictor on Gaussian data a DDIM step is linear: the deviation
    x - sqrt(abar) MU is multiplied by k = (sqrt(abar abar') S^2 + sqrt((1 - abar)(1 - abar')))
    / (abar S^2 + 1 - abar). So 50 steps map x_T to MU + prod(k) (x_T - sqrt(abar_T) MU)
    exactly, and as steps grow prod(k) tends to the exact flow's S / sqrt(Var x_T)."""
    schedule = GaussianSchedule(linear_betas(1000))
    x_T = noise(50)
    for steps, exact_tol in ((50, None), (1000, 0.01)):
        sub, _ = schedule.respace(steps)
        a, a_prev = sub.alphas_cumprod, sub.alphas_cumprod_prev
        k = ((a * a_prev).sqrt() * S**2 + ((1 - a) * (1 - a_prev)).sqrt()) / (a * S**2 + 1 - a)
        expected = MU + k.prod() * (x_T - a[-1].sqrt() * MU)
        x = samplers.ddim(optimal_eps(schedule), schedule, x_T, steps, 0.0, clip=False)
        assert torch.allclose(x, expected, atol=1e-9)
        if exact_tol:
            flow = S / (a[-1] * S**2 + 1 - a[-1]).sqrt()
            assert abs(k.prod() / flow - 1) < exact_tol


# Flow matching from N(0, 1) to N(M, SF^2): x_t has mean t M and std
# sigma_t = sqrt((1 - t)^2 + t^2 SF^2); the marginal velocity is
# v(x, t) = M + (t SF^2 - (1 - t)) / sigma_t^2 (x - t M), and the exact flow maps x_0 to
# M + SF x_0.
M, SF = 1.5, 0.5


def gaussian_velocity(x, t):
    t = t.view(-1, 1, 1, 1).to(x.dtype)
    var = (1 - t) ** 2 + t**2 * SF**2
    return M + (t * SF**2 - (1 - t)) / var * (x - t * M)


def test_euler_and_heun_converge_to_the_exact_flow_heun_faster():
    x0 = noise(200)
    exact = M + SF * x0
    errors = {"euler": [], "heun": []}
    for steps in (8, 16, 32, 64):
        for name in errors:
            x = getattr(samplers, name)(gaussian_velocity, x0, steps)
            errors[name].append((x - exact).abs().max().item())
    euler, heun = errors["euler"], errors["heun"]
    assert all(h < e for h, e in zip(heun, euler, strict=True))
    assert euler[-1] < 0.05 and heun[-1] < 5e-4  # measured 0.036 and 0.00017
    # first order: halving the step about halves the error; second order: about quarters it
    # (measured 1.9-2.0 and 3.2-3.8)
    assert all(1.6 < a / b < 2.6 for a, b in itertools.pairwise(euler))
    assert all(a / b > 3.0 for a, b in itertools.pairwise(heun))


def test_euler_approaches_heun_as_steps_grow():
    x0 = noise(200)
    gaps = [(samplers.euler(gaussian_velocity, x0, n) - samplers.heun(gaussian_velocity, x0, n))
            .abs().max().item() for n in (4, 16, 64)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.1 * gaps[0]  # O(1 / steps)
