"""Low-level services every other part of ``zoo`` may use: checkpoint files (safetensors with
metadata, :mod:`zoo.io.weights`) and the Hugging Face Hub client (references, checked
downloads, one-commit pushes, :mod:`zoo.io.hub_client`). They import nothing from ``zoo``."""
