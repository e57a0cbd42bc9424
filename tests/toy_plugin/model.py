import math

import torch
from torch import nn

import gen


class Generator(nn.Module):
    def __init__(self, latent_dim, shape, hidden):
        super().__init__()
        self.latent_dim, self.num_classes, self.shape = latent_dim, None, shape
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, math.prod(shape)), nn.Tanh())

    def forward(self, z, y=None):
        return self.net(z).view(-1, *self.shape)


class Toy(gen.AdversarialModel):
    """Least-squares GAN on MLPs; dropout in the critic so the test RNG stream matters."""

    def __init__(self, spec, data):
        shape = (data.channels, data.image_size, data.image_size)
        critic = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), spec.hidden),
                               nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(spec.hidden, 1))
        critic.num_classes = None
        super().__init__(spec, data, Generator(spec.latent_dim, shape, spec.hidden), critic)
        self.optimizers = {k: torch.optim.Adam(m.parameters(), lr=spec.lr)
                           for k, m in self.modules.items()}

    def train_step(self, next_batch):
        images, _ = next_batch()
        fake = self.generator(self.latent(images.shape[0]))
        d_loss = ((self.discriminator(images) - 1) ** 2).mean() + (
            self.discriminator(fake.detach()) ** 2).mean()
        self.optimize("discriminator", d_loss)
        g_loss = ((self.discriminator(fake) - 1) ** 2).mean()
        self.optimize("generator", g_loss)
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == self.spec.explode_at:
            with torch.no_grad():
                for p in self.generator.parameters():
                    p.fill_(float("nan"))
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
