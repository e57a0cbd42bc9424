"""gen-flow: normalising flows (RealNVP, Glow) with dequantised likelihoods. Registration only:
importing this does not import torch."""

import gen


@gen.hookimpl
def gen_register_models(register):
    register(
        name="realnvp",
        kind="flow",
        summary="RealNVP: affine couplings with checkerboard and channel masks, multi-scale "
        "(Dinh et al. 2017)",
        spec="gen_flow.specs:RealNVPSpec",
        model="gen_flow.realnvp:RealNVP",
        conditional=False,
    )
    register(
        name="glow",
        kind="flow",
        summary="Glow: actnorm, invertible 1x1 convolutions and affine couplings, multi-scale "
        "(Kingma & Dhariwal 2018)",
        spec="gen_flow.specs:GlowSpec",
        model="gen_flow.glow:Glow",
        conditional=False,
    )
