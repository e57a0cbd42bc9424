"""Each invertible layer: inverse(forward(x)) == x, and its log-determinant equals
log |det| of the autograd Jacobian, in float64 on tiny inputs with perturbed weights (so
zero-initialised couplings and identity actnorms are not the identity)."""

import pytest
import torch
from flow_models import randomise
from torch.autograd.functional import jacobian

from gen_flow.layers import (
    ActNorm,
    ChannelCoupling,
    CheckerboardCoupling,
    FlowStep,
    GlowCoupling,
    InvConv1x1,
    Squeeze,
)

# name -> (layer factory, input shape of one example)
LAYERS = {
    "checkerboard-even": (lambda: CheckerboardCoupling(1, 4, 0, 4, 1), (1, 4, 4)),
    "checkerboard-odd": (lambda: CheckerboardCoupling(1, 4, 1, 4, 1), (1, 4, 4)),
    "checkerboard-rgb": (lambda: CheckerboardCoupling(3, 2, 0, 4, 2), (3, 2, 2)),
    "channel": (lambda: ChannelCoupling(4, False, 4, 1), (4, 2, 2)),
    "channel-flipped": (lambda: ChannelCoupling(4, True, 4, 0), (4, 2, 2)),
    "squeeze": (lambda: Squeeze(), (2, 4, 4)),
    "actnorm": (lambda: ActNorm(3), (3, 2, 2)),
    "invconv": (lambda: InvConv1x1(3), (3, 2, 2)),
    "invconv-1x1": (lambda: InvConv1x1(4), (4, 1, 1)),
    "glow-coupling": (lambda: GlowCoupling(4, 4), (4, 2, 2)),
    "glow-step": (lambda: FlowStep(ActNorm(4), InvConv1x1(4), GlowCoupling(4, 4)), (4, 2, 2)),
}


def make(name):
    factory, shape = LAYERS[name]
    torch.manual_seed(0)
    layer = factory().double()
    randomise(layer)
    return layer, shape


@pytest.fixture(params=list(LAYERS))
def layer_name(request):
    return request.param


def test_layer_inverts(layer_name):
    layer, shape = make(layer_name)
    x = torch.randn(3, *shape, dtype=torch.float64)
    y, logdet = layer(x)
    assert y.shape[0] == 3 and logdet.shape == (3,)
    assert torch.allclose(layer.inverse(y), x, atol=1e-10, rtol=0)


def test_layer_logdet_is_the_jacobians(layer_name):
    layer, shape = make(layer_name)
    x = torch.randn(1, *shape, dtype=torch.float64)

    def f(flat):
        return layer(flat.view(1, *shape))[0].flatten()

    jac = jacobian(f, x.flatten())
    sign, logabsdet = torch.linalg.slogdet(jac)
    assert sign != 0
    assert torch.allclose(layer(x)[1][0], logabsdet, atol=1e-9, rtol=0)


def test_layer_logdet_is_per_example(layer_name):
    layer, shape = make(layer_name)
    x = torch.randn(2, *shape, dtype=torch.float64)
    _, both = layer(x)
    one = torch.cat([layer(x[i : i + 1])[1] for i in range(2)])
    assert torch.allclose(both, one, atol=1e-12, rtol=0)
