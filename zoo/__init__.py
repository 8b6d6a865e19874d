"""mer-zoo: benchmark harness and model zoo for micro-expression recognition.

The Python entry points of a trained model (``zoo train``, or its Hub repo)::

    import zoo
    model, preprocess = zoo.load("hf:ORG/NAME")          # or a zoo train folder
    zoo.predict(model, preprocess, onset="onset.jpg", apex="apex.jpg")
    # [{"clip": ..., "subject": None, "predicted": "positive", "probabilities": {...}}]
"""

from zoo.bench.prediction import load, predict

__all__ = ["load", "predict"]
