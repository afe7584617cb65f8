"""The viewer page's inline stylesheet and Content-Security-Policy (no scripts, fonts or fetches).

Colours only reinforce what the text already says (every status is written out); the layout is a
single readable column; on a phone each table row is stacked into labelled lines.
"""

from __future__ import annotations

#: nothing may load: no scripts, images, fonts or frames; only the inline stylesheet below
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'"
)

CSS = """
:root { color-scheme: light; --ok: #116329; --bad: #a40e26; --mixed: #8a4600; --unk: #57606a; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; background: #f6f8fa; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
header.top { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 0 1rem 1rem;
  margin-top: 1rem; }
.badge { display: inline-block; padding: .1rem .6rem; border-radius: 999px; font-weight: 600;
  border: 2px solid currentColor; }
.v-certified, .d-accept, .st-supported, .allowed, .valid { color: var(--ok); }
.v-abstain, .d-reject, .st-contradicted, .blocked, .invalid { color: var(--bad); }
.v-residue, .v-partial, .d-downgrade, .st-contested { color: var(--mixed); }
.st-unknown { color: var(--unk); }
.answer { font-size: 1.05rem; line-height: 1.8; }
.claim { border-bottom: 3px solid currentColor; padding: 0 .1rem; }
.claim .text { color: #1f2328; }
.claim.st-supported { background: #dafbe1; }
.claim.st-contradicted { background: #ffebe9; }
.claim.st-contested { background: #fff1e5; }
.claim.st-unknown { background: #eaeef2; }
.tag { font-size: .78rem; font-weight: 700; margin-left: .25rem; }
del .text { text-decoration: line-through 2px; color: #57606a; }
.reason { font-size: .85rem; color: var(--bad); font-style: italic; }
.scroll { overflow-x: auto; }
caption { caption-side: top; text-align: left; font-size: .85rem; color: #57606a;
  padding: .25rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem;
  border-bottom: 1px solid #d0d7de; }
th { background: #f6f8fa; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .85rem; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
ul.plain { padding-left: 1.2rem; margin: .25rem 0; }
details pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; }
@media (max-width: 40rem) {
  main { padding: .5rem; }
  dl { grid-template-columns: 1fr; }
  dd { margin-bottom: .4rem; }
  table, caption, tbody, tr, td { display: block; width: 100%; }
  thead { position: absolute; left: -9999px; }
  tr { border-bottom: 2px solid #d0d7de; padding: .4rem 0; }
  td { border: 0; padding: .15rem 0; }
  td::before { content: attr(data-label) ": "; font-weight: 600; }
}
"""
