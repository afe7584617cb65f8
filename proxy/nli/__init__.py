"""Training, evaluation and packaging of the embedded NLI cross-encoder; never on the request path.

`assurance nli train` fine-tunes a 3-label cross-encoder from the packaged all-MiniLM-L6-v2 weights
on the permissively licensed pairs in `shared/data/nli-train/` (top level only: `license-review/` is
left out), `assurance nli evaluate` measures it on the validation split (accuracy per source and
label, expected calibration error), and `assurance nli export` writes the int8 ONNX model the
product ships.
"""
