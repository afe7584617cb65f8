"""Evaluation harnesses (`assurance eval ...`): measure how well the certifiers catch bad answers.

Not part of the proxy's request path: nothing here is imported by the server. Modules: `datasets`
(adapters), `refusals`, `runner` (oracles, concurrent), `cache`, `scoring` (outcomes through the
certifiers' builders), `report` (rates, JSON, Markdown), `stats` (Clopper-Pearson), `plot` (PNG),
`harness` (the pipeline that ties them together).
"""
