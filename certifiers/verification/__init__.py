"""Independent re-derivation of every certificate obligation (SPEC 5.1-5.5 and 6).

Used by `certifiers.verify`. One module per layer; each takes decoded bundle data and a `Report`,
recomputes every derived value from the recorded inputs and records a named failure for each
mismatch. Nothing here imports `certifiers.builders`.
"""
