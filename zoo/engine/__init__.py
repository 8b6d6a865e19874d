"""The training engine shared by every model: inputs, augmentation, the trainer."""
