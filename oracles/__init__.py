"""Oracle adapters below the trust boundary: they call models and return typed records plus
transcript digests. Oracles never decide emission."""
