"""gen-core's own plugin: the built-in feature extractors, data sets and trackers, registered
through the same hooks a third-party plugin uses (so `gen plugins` and `gen list-datasets` list
them under ``gen-core``). Registration only: their modules, and torch, are imported when used."""

from __future__ import annotations

from gen.hookspecs import hookimpl


@hookimpl
def gen_register_extractors(register):
    register(
        name="inception",
        summary="Inception-v3 pool features, the standard FID network (Szegedy et al. 2016; "
        "Heusel et al. 2017), from the published pt_inception-2015-12-05 weights",
        extractor="gen.extractors.inception:build",
    )
    register(
        name="lenet",
        summary="A LeNet-style classifier trained by gen on the run's data set (offline; "
        "penultimate-layer features)",
        extractor="gen.extractors.lenet:build",
    )


_SOURCES = "gen.data.sources"


@hookimpl
def gen_register_datasets(register):
    register(name="bundled-mnist", labelled=True,
             summary="MNIST's 10,000 test digits, shipped with gen (offline); every tenth is "
             "held out as the test part",
             dataset=f"{_SOURCES}.mnist:build_bundled")
    register(name="mnist", labelled=True,
             summary="MNIST digits (LeCun et al. 1998), 28x28 grey, torchvision's files",
             dataset=f"{_SOURCES}.mnist:build_mnist")
    register(name="fashion-mnist", labelled=True,
             summary="Fashion-MNIST (Xiao et al. 2017), 28x28 grey, torchvision's files",
             dataset=f"{_SOURCES}.mnist:build_fashion_mnist")
    register(name="cifar10", labelled=True,
             summary="CIFAR-10 (Krizhevsky 2009), 32x32 colour, torchvision's files",
             dataset=f"{_SOURCES}.mnist:build_cifar10")
    register(name="image-folder", labelled=None,
             summary="your own images in data.root; sub-folders are classes",
             dataset=f"{_SOURCES}.folder:build", options=f"{_SOURCES}.options:FolderOptions")
    register(name="npz", labelled=None,
             summary="your own arrays: a .npz with uint8 `images` and optional `labels`",
             dataset=f"{_SOURCES}.npz:build", options=f"{_SOURCES}.options:NpzOptions")
    register(name="svhn", labelled=True,
             summary="SVHN house numbers (Netzer et al. 2011), 32x32 colour, torchvision's files",
             dataset=f"{_SOURCES}.svhn:build", options=f"{_SOURCES}.options:SvhnOptions")
    register(name="stl10", labelled=True,
             summary="STL-10 (Coates et al. 2011), 96x96 colour; options.unlabeled trains on "
             "its 100,000 unlabelled images",
             dataset=f"{_SOURCES}.stl10:build", options=f"{_SOURCES}.options:Stl10Options")
    register(name="celeba", labelled=False,
             summary="CelebA aligned faces (Liu et al. 2015), 178x218 colour, torchvision's "
             "layout; options.crop fits them square",
             dataset=f"{_SOURCES}.celeba:build", options=f"{_SOURCES}.options:CelebAOptions")


_TRACKING = "gen.tracking"


@hookimpl
def gen_register_trackers(register):
    register(name="tensorboard", requires=("tensorboard",),
             install="pip install 'gen-core[tensorboard]'",
             summary="TensorBoard event files in the run's tensorboard/ folder: scalars, grids, "
             "scores, coverage, health warnings, the spec as hparams",
             tracker=f"{_TRACKING}.tensorboard:TensorBoardTracker")
    register(name="mlflow", requires=("mlflow",), install="pip install 'gen-core[mlflow]'",
             summary="MLflow: a local store in the run's mlruns/ folder, or any tracking URI",
             tracker=f"{_TRACKING}.mlflow:MLflowTracker",
             options=f"{_TRACKING}.options:MLflowOptions")
    register(name="wandb", requires=("wandb",), install="pip install 'gen-core[wandb]'",
             summary="Weights & Biases; honours WANDB_MODE (offline works with no network)",
             tracker=f"{_TRACKING}.wandb:WandbTracker",
             options=f"{_TRACKING}.options:WandbOptions")
