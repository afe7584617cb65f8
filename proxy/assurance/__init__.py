"""The assurance pipeline behind modes `shadow` and `enforce`: request parsing of the `assurance`
field, oracle orchestration (fail closed), scenario assembly across the trust boundary,
certification,
signing and storing, what enforce emits, SSE streaming in both modes, the card headers, action-gate
sessions and the replay/verify routes. It never computes a certificate field: `certifiers` does.
"""
