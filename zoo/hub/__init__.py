"""mer-zoo on the Hugging Face Hub, through the stock ``huggingface_hub`` client.

Everything the client reads from the environment applies unchanged: ``HF_ENDPOINT``,
``HF_TOKEN`` or the ``hf auth login`` token, ``HF_HUB_OFFLINE``, ``HF_HOME`` /
``HF_HUB_CACHE``. Downloads land in the standard Hugging Face cache; mer-zoo never stores,
prints or passes on a token.

- :mod:`zoo.io.hub_client`: references, checked downloads, one-commit pushes, one-line errors
  (also used for timm's ImageNet weights, :func:`zoo.backbones.create_backbone`).
- :mod:`zoo.hub.repo`: what a mer-zoo repo holds (``config.json``, weights, result, card),
  built from a local run or pre-training output, and read back after a download.
- :mod:`zoo.hub.card`: the generated model card (``model-index`` with UF1/UAR/accuracy).
"""
