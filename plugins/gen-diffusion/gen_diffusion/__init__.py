"""gen-diffusion: denoising diffusion (DDPM) and flow matching on one U-Net, with samplers
chosen at sample time. Registration only: importing this does not import torch."""

import gen


@gen.hookimpl
def gen_register_models(register):
    register(
        name="ddpm",
        kind="diffusion",
        summary="Denoising diffusion probabilistic model: epsilon prediction, L_simple, "
        "ancestral and DDIM sampling, variational bound (Ho et al. 2020; Song et al. 2021)",
        spec="gen_diffusion.specs:DDPMSpec",
        model="gen_diffusion.ddpm:DDPM",
        conditional=False,
    )
    register(
        name="flow-matching",
        kind="diffusion",
        summary="Flow matching on the straight (rectified-flow) path: velocity regression, "
        "Euler and Heun ODE sampling (Lipman et al. 2023; Liu et al. 2022)",
        spec="gen_diffusion.specs:FlowMatchingSpec",
        model="gen_diffusion.flow_matching:FlowMatching",
        conditional=False,
    )
